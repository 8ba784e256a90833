import Testing
@testable import OrchestratorProtocol

@Suite struct LineFramingTests {
    @Test func aCompleteLineIsFoundWithoutItsNewline() {
        #expect(LineFraming.next(in: Array("{}\nrest".utf8), maximumLineBytes: 10) == .line(length: 2))
    }

    @Test func partialInputWaitsForMore() {
        #expect(LineFraming.next(in: Array("{\"jsonrpc\"".utf8), maximumLineBytes: 100) == .needMoreData)
        #expect(LineFraming.next(in: [UInt8](), maximumLineBytes: 100) == .needMoreData)
    }

    @Test func aLineOverTheCapIsTooLongEvenBeforeItsNewlineArrives() {
        #expect(LineFraming.next(in: [UInt8](repeating: 65, count: 11), maximumLineBytes: 10) == .tooLong)
        #expect(LineFraming.next(in: [UInt8](repeating: 65, count: 11) + [10], maximumLineBytes: 10) == .tooLong)
        #expect(LineFraming.next(in: [UInt8](repeating: 65, count: 10) + [10], maximumLineBytes: 10) == .line(length: 10))
    }

    @Test func whatWasScannedAlreadyIsNotScannedAgain() {
        let partial = Array("{\"jsonrpc\"".utf8)
        #expect(LineFraming.next(in: partial, maximumLineBytes: 100) == .needMoreData)
        #expect(LineFraming.next(in: partial + Array(":1}\n".utf8), maximumLineBytes: 100, scanned: partial.count) == .line(length: partial.count + 3))
        // Told that bytes holding a newline were scanned, it looks after them only: the count is what makes it linear.
        #expect(LineFraming.next(in: Array("a\nbc".utf8), maximumLineBytes: 100, scanned: 2) == .needMoreData)
    }

    @Test func carriageReturnsAreTrimmed() {
        #expect(Array(LineFraming.trimmed(Array("{}\r".utf8))) == Array("{}".utf8))
    }
}

@Suite struct JSONCodingTests {
    @Test func integersAndFractionsStayApart() throws {
        #expect(try JSONCoding.parse("1") == .int(1))
        #expect(try JSONCoding.parse("-0") == .int(0))
        #expect(try JSONCoding.parse("1.5") == .double(1.5))
        #expect(try JSONCoding.parse("1e3") == .double(1000))
        #expect(try JSONCoding.parse("99999999999999999999") == .double(1e20))
    }

    @Test func stringsDecodeEscapesAndSurrogatePairs() throws {
        #expect(try JSONCoding.parse(#""a\nb\u00e9\ud83d\ude00\"""#) == .string("a\nbé😀\""))
    }

    @Test(arguments: [
        "", "{", "[1,]", "{\"a\":}", "01", "1.", "\"\\ud800\"", "\"\u{01}\"", "tru", "{} x", "{'a':1}", "NaN", "\"\\x\"",
    ])
    func malformedJSONIsRefused(_ text: String) {
        #expect(throws: JSONCoding.ParseError.self) { try JSONCoding.parse(text) }
    }

    @Test func invalidUTF8IsRefused() {
        #expect(throws: JSONCoding.ParseError.self) { try JSONCoding.parse([0x22, 0xFF, 0xFE, 0x22]) }
    }

    @Test func hostileNestingIsRefusedNotFollowed() {
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        #expect(throws: JSONCoding.ParseError.self) { try JSONCoding.parse(deep) }
    }

    @Test func serialisationRoundTripsAndEscapesControlCharacters() throws {
        let value: JSONValue = ["b": [1, 2.5, "x\u{1}\"\\"], "a": .null, "c": true]
        let text = JSONCoding.serialize(value)
        #expect(text == #"{"a":null,"b":[1,2.5,"x\u0001\"\\"],"c":true}"#)
        #expect(try JSONCoding.parse(text) == value)
    }
}

@Suite struct RPCCodecTests {
    private func decode(_ text: String) -> IncomingMessage { RPCCodec.decode(line: Array(text.utf8)) }

    @Test func aRequestKeepsItsIdAndParams() {
        #expect(decode(#"{"jsonrpc":"2.0","id":"x","method":"workflow.get","params":{"name":"a"}}"#)
            == .request(RPCRequest(id: "x", method: "workflow.get", params: ["name": "a"])))
    }

    @Test func aRequestWithoutIdIsANotification() {
        #expect(decode(#"{"jsonrpc":"2.0","method":"daemon.status"}"#) == .request(RPCRequest(id: nil, method: "daemon.status")))
    }

    @Test func malformedRequestsKeepTheirIdWhenItCanBeRead() {
        guard case .invalid(let id, let error) = decode(#"{"jsonrpc":"1.0","id":7,"method":"x"}"#) else {
            Issue.record("accepted a wrong jsonrpc version")
            return
        }
        #expect(id == 7)
        #expect(error.code == .invalidRequest)
    }

    @Test func positionalParamsAreInvalidParams() {
        guard case .invalid(_, let error) = decode(#"{"jsonrpc":"2.0","id":1,"method":"x","params":[1]}"#) else {
            Issue.record("accepted positional params")
            return
        }
        #expect(error.code == .invalidParams)
    }

    /// JSON-RPC 2.0: a notification is never answered, not even when its params are wrong.
    @Test func aMalformedNotificationIsNotAnswered() {
        guard case .malformedNotification(let error) = decode(#"{"jsonrpc":"2.0","method":"x","params":[1]}"#) else {
            Issue.record("a notification with positional params would be answered")
            return
        }
        #expect(error.code == .invalidParams)
        guard case .malformedNotification = decode(#"{"jsonrpc":"2.0","method":"x","extra":1}"#) else {
            Issue.record("a notification with an unknown member would be answered")
            return
        }
    }

    /// Any JSON number is a valid id, and the answer carries it back.
    @Test func aFractionalIdIsAnIdLikeAnyOther() {
        guard case .request(let request) = decode(#"{"jsonrpc":"2.0","id":1.5,"method":"x"}"#) else {
            Issue.record("refused a fractional id")
            return
        }
        #expect(request.id == .double(1.5))
    }

    @Test func parseErrorsAndNonObjectsGetTheRightCodes() {
        #expect(decode("{nope").errorCode == .parseError)
        #expect(decode("42").errorCode == .invalidRequest)
        #expect(decode("[]").errorCode == .invalidRequest)
        #expect(decode(#"{"jsonrpc":"2.0","id":{},"method":"x"}"#).errorCode == .invalidRequest)
    }

    @Test func batchesAreSplitIntoTheirElements() {
        guard case .batch(let items) = decode(#"[{"jsonrpc":"2.0","id":1,"method":"a"}, 5]"#) else {
            Issue.record("not a batch")
            return
        }
        #expect(items.count == 2)
        #expect(items[1].errorCode == .invalidRequest)
    }
}

extension IncomingMessage {
    var errorCode: ErrorCode? {
        if case .invalid(_, let error) = self { return error.code }
        return nil
    }
}
