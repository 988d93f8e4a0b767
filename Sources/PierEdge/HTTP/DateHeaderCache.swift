/// The `Date` header value, formatted at most once per second.
final class DateHeaderCache {
    private var second = -1
    private var value = ""

    func current(epochSeconds: Int) -> String {
        if epochSeconds != second {
            second = epochSeconds
            value = HTTPDate.format(epochSeconds: epochSeconds)
        }
        return value
    }
}
