import PierCore
import Testing

@Suite("Config durations")
struct ConfigDurationTests {
    @Test(
        "accepts the documented units",
        arguments: [
            ("500ms", Duration.milliseconds(500)),
            ("10s", .seconds(10)),
            ("2m", .seconds(120)),
            ("1h", .seconds(3600)),
            ("1m30s", .seconds(90)),
            ("1.5s", .milliseconds(1500)),
            ("0", .zero),
        ]
    )
    func parses(text: String, expected: Duration) {
        #expect(ConfigDuration.parse(text) == expected)
    }

    @Test("refuses numbers without units and unknown units", arguments: ["10", "", "s", "10x", "-1s", "1e3s", "ms10"])
    func refuses(text: String) {
        #expect(ConfigDuration.parse(text) == nil)
    }

    @Test("refuses totals that would overflow downstream, even when each part is in range")
    func refusesHugeTotals() {
        #expect(ConfigDuration.parse(String(repeating: "200000h", count: 13)) == nil)
        #expect(ConfigDuration.parse("10000d") != nil)
    }

    @Test("formats back to the shortest unit")
    func formats() {
        #expect(ConfigDuration.format(.seconds(120)) == "2m")
        #expect(ConfigDuration.format(.milliseconds(1500)) == "1500ms")
        #expect(ConfigDuration.format(.seconds(10)) == "10s")
        #expect(ConfigDuration.format(.zero) == "0")
    }
}
