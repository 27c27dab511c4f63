import Foundation
import PolicyHubCore
import Testing

@testable import PolicyHubConsole

@Suite struct PagePartsTests {
    @Test func timesAreWrittenInUTC() {
        #expect(Formats.time(Date(timeIntervalSince1970: 1_800_000_000)) == "2027-01-15 08:00:00 UTC")
        #expect(Formats.time(Date(timeIntervalSince1970: 0.999)) == "1970-01-01 00:00:00 UTC")
    }

    @Test func menuOptionsAreEscapedAndTheChosenOneSelected() {
        let html = OptionList.html(["a", #"<b x="1">"#], selected: "a")
        #expect(
            html
                == #"<option value="a" selected>a</option><option value="&lt;b x=&quot;1&quot;&gt;">&lt;b x=&quot;1&quot;&gt;</option>"#
        )
    }

    @Test func schemaTablesDescribeTypesDefaultsAndConstraints() {
        let table = SchemaTable(
            [
                "type": "object", "required": ["a"],
                "properties": [
                    "a": ["type": "array", "items": ["type": "string"], "maxItems": 3],
                    "b": ["enum": ["x", "y"], "default": "x"],
                ],
            ])
        #expect(table.rows.map(\.name) == ["a", "b"])
        #expect(table.rows[0].type == "array of string" && table.rows[0].required)
        #expect(table.rows[0].constraints == ["items ≤ 3"])
        #expect(table.rows[1].type == "enum" && table.rows[1].defaultValue == "\"x\"")
        #expect(table.rows[1].constraints == [#"one of "x", "y""#])
    }
}
