/// ISO 3166-1 alpha-2 country codes (the 249 assigned ones) and the continent each lies on, as
/// two-letter continent codes: AF Africa, AN Antarctica, AS Asia, EU Europe, NA North America,
/// OC Oceania, SA South America. Made once from pycountry 26.2 and pycountry-convert 0.7; a
/// country that spans two continents is where those put it (RU in Europe, TR and CY in Asia, EG in Africa).
public enum CountryCodes {
    public static let continents = ["AF", "AN", "AS", "EU", "NA", "OC", "SA"]

    /// Every assigned code, sorted.
    public static var all: [String] { table.keys.sorted() }

    /// The continent of `country` (upper case), nil for a code that is not assigned.
    public static func continent(of country: String) -> String? { table[country] }

    static let table: [String: String] = {
        var table: [String: String] = [:]
        for (continent, countries) in byContinent {
            for country in countries.split(separator: " ") { table[String(country)] = continent }
        }
        return table
    }()

    static let byContinent: [String: String] = [
        "AF":
            "AO BF BI BJ BW CD CF CG CI CM CV DJ DZ EG EH ER ET GA GH GM GN GQ GW KE KM LR LS LY MA MG "
            + "ML MR MU MW MZ NA NE NG RE RW SC SD SH SL SN SO SS ST SZ TD TG TN TZ UG YT ZA ZM ZW",
        "AN": "AQ BV HM TF",
        "AS":
            "AE AF AM AZ BD BH BN BT CC CN CX CY GE HK ID IL IN IO IQ IR JO JP KG KH KP KR KW KZ LA LB "
            + "LK MM MN MO MV MY NP OM PH PK PS QA SA SG SY TH TJ TL TM TR TW UZ VN YE",
        "EU":
            "AD AL AT AX BA BE BG BY CH CZ DE DK EE ES FI FO FR GB GG GI GR HR HU IE IM IS IT JE LI LT "
            + "LU LV MC MD ME MK MT NL NO PL PT RO RS RU SE SI SJ SK SM UA VA",
        "NA":
            "AG AI AW BB BL BM BQ BS BZ CA CR CU CW DM DO GD GL GP GT HN HT JM KN KY LC MF MQ MS MX NI "
            + "PA PM PR SV SX TC TT US VC VG VI",
        "OC": "AS AU CK FJ FM GU KI MH MP NC NF NR NU NZ PF PG PN PW SB TK TO TV UM VU WF WS",
        "SA": "AR BO BR CL CO EC FK GF GS GY PE PY SR UY VE",
    ]
}
