import Crypto
import Foundation
import OrchestratorModel

/// The keys secrets are sealed with: AES-256-GCM, the secret's name bound
/// in as associated data (a sealed value copied under another name does
/// not open). The current key seals; a previous one (during a rotation)
/// only opens what it sealed.
public struct SecretKeyring: Sendable {
    public struct Key: Sendable {
        let key: SymmetricKey
        /// The first 8 bytes of the key's SHA-256, in hex: what each sealed
        /// secret records, so a daemon tells which key it needs.
        public let id: String
        public let path: String
    }

    public let current: Key
    public let previous: Key?

    public init(current: Key, previous: Key? = nil) {
        self.current = current
        self.previous = previous
    }

    /// A keyring for tests and the simulation: a key made of these bytes.
    public init(testKey bytes: [UInt8]) {
        self.init(current: Self.key(bytes, path: "(test)"))
    }

    /// Reads the key file (32 bytes: raw, base64 or hex text) and refuses
    /// one that is missing, unreadable, of the wrong size, or readable by
    /// anyone but its owner (who must be this process's user or root).
    public static func load(current path: String, previous: String? = nil) throws(KeyFileError) -> SecretKeyring {
        let key = try loadKey(path)
        guard let previous else { return SecretKeyring(current: key) }
        let old = try loadKey(previous)
        return SecretKeyring(current: key, previous: old.id == key.id ? nil : old)
    }

    static func loadKey(_ path: String) throws(KeyFileError) -> Key {
        // Opened once, not followed if a link, and judged by what was opened: no swap between the check and the read.
        let fd = Glibc.open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else {
            let reason = String(cString: strerror(errno))
            throw KeyFileError(path: path, problem: errno == ENOENT
                ? "does not exist; create it with: install -m 0600 /dev/null \(path) && head -c 32 /dev/urandom | base64 > \(path)"
                : errno == ELOOP ? "is a symbolic link; name the file itself" : "cannot be read: \(reason)")
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw KeyFileError(path: path, problem: "cannot be read: \(String(cString: strerror(errno)))") }
        guard (info.st_mode & S_IFMT) == S_IFREG else { throw KeyFileError(path: path, problem: "is not a regular file") }
        guard info.st_mode & 0o077 == 0 else {
            throw KeyFileError(path: path, problem: String(format: "is readable or writable by others (mode %04o); it must be 0600 or 0400: chmod 0600 %@", info.st_mode & 0o7777, path))
        }
        guard info.st_uid == geteuid() || info.st_uid == 0 else {
            throw KeyFileError(path: path, problem: "belongs to uid \(info.st_uid), neither root nor the daemon's user (uid \(geteuid()))")
        }
        guard info.st_size <= 4096 else { throw KeyFileError(path: path, problem: "does not hold a 256-bit key (it is \(info.st_size) bytes)") }
        var data = [UInt8](repeating: 0, count: Int(info.st_size))
        var filled = 0
        while filled < data.count {
            let n = data.withUnsafeMutableBytes { read(fd, $0.baseAddress! + filled, $0.count - filled) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw KeyFileError(path: path, problem: "cannot be read: \(String(cString: strerror(errno)))") }
            filled += n
        }
        guard let bytes = decode(data) else {
            throw KeyFileError(path: path, problem: "does not hold a 256-bit key (32 bytes, raw or as base64 or hex text; got \(data.count) bytes)")
        }
        return key(bytes, path: path)
    }

    static func key(_ bytes: [UInt8], path: String) -> Key {
        let digest = SHA256.hash(data: bytes)
        return Key(key: SymmetricKey(data: bytes), id: digest.prefix(8).map { String(format: "%02x", $0) }.joined(), path: path)
    }

    /// 32 raw bytes, or their base64 or hex text (surrounding white space ignored).
    static func decode(_ data: [UInt8]) -> [UInt8]? {
        if data.count == 32 { return data }
        let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        if let decoded = Data(base64Encoded: text), decoded.count == 32 { return Array(decoded) }
        if text.count == 64, text.allSatisfy(\.isHexDigit) {
            var bytes: [UInt8] = []
            var index = text.startIndex
            while index < text.endIndex {
                let next = text.index(index, offsetBy: 2)
                bytes.append(UInt8(text[index..<next], radix: 16)!)
                index = next
            }
            return bytes
        }
        return nil
    }

    public func seal(_ value: String, name: String) throws(OrchestratorError) -> [UInt8] {
        do {
            let box = try AES.GCM.seal(Array(value.utf8), using: current.key, authenticating: Array(name.utf8))
            guard let combined = box.combined else { throw OrchestratorError(.internalError, "AES-GCM gave no combined form") }
            return Array(combined)
        } catch let error as OrchestratorError {
            throw error
        } catch {
            throw OrchestratorError(.internalError, "could not encrypt secret '\(name)': \(error)")
        }
    }

    /// The value, opened with the key it was sealed under.
    public func open(_ secret: SealedSecret) throws(OrchestratorError) -> String {
        let name = secret.record.name
        guard let key = [current, previous].compactMap({ $0 }).first(where: { $0.id == secret.record.keyId }) else {
            throw OrchestratorError.conflict(
                "secret '\(name)' is sealed under key \(secret.record.keyId), but this daemon's key file \(current.path) is key \(current.id)"
                    + ": the daemons sharing a database need the same key (set secret-previous-key-file to the old key to re-encrypt)",
                details: ["secret": name, "keyId": secret.record.keyId])
        }
        do {
            let box = try AES.GCM.SealedBox(combined: secret.sealed)
            return String(decoding: try AES.GCM.open(box, using: key.key, authenticating: Array(name.utf8)), as: UTF8.self)
        } catch {
            throw OrchestratorError.conflict(
                "secret '\(name)' does not open with key \(key.id) (\(key.path)): it was altered, or sealed under another name; set it again",
                details: ["secret": name, "keyId": key.id])
        }
    }
}

/// A key file the daemon cannot use; the message names the file.
public struct KeyFileError: Error, CustomStringConvertible {
    public let path: String
    public let problem: String

    public var description: String { "secret key file \(path) \(problem)" }
}
