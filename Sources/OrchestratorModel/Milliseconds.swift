import Foundation

extension Date {
    /// The date as MongoDB stores it (BSON dates hold milliseconds): what a
    /// write returns then equals what a later read returns.
    public var milliseconds: Date { Date(timeIntervalSince1970: (timeIntervalSince1970 * 1000).rounded() / 1000) }
}
