"""Live fetch of hourly weather from the Open-Meteo archive API, with retries and a cache.

Each response is cached as a file under the cache folder (one per airport and date
range), so a re-run reads the disk instead of the network, and the cached files are
ingested like user-supplied Open-Meteo files.
"""

from __future__ import annotations

import csv
import json
import logging
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from flightpipe.core import storage
from flightpipe.core.errors import PipelineError
from flightpipe.core.sections import OpenMeteoApi, WeatherFile

log = logging.getLogger("flightpipe.openmeteo")

RETRYABLE_STATUS = {429, 500, 502, 503, 504}


def airport_coordinates(codes: list[str], airports_csv: Path | None) -> dict[str, tuple[float, float]]:
    """Latitude and longitude per IATA code: the embedded airports table, then airportsdata."""
    found: dict[str, tuple[float, float]] = {}
    if airports_csv is not None and airports_csv.is_file():
        with open(airports_csv, encoding="utf-8", newline="") as fh:
            for row in csv.DictReader(fh):
                if row["faa"] in codes:
                    found[row["faa"]] = (float(row["lat"]), float(row["lon"]))
    missing = [c for c in codes if c not in found]
    if missing:
        import airportsdata

        world = airportsdata.load("IATA")
        for code in missing:
            if code in world:
                found[code] = (float(world[code]["lat"]), float(world[code]["lon"]))
    unknown = [c for c in codes if c not in found]
    if unknown:
        raise PipelineError(
            f"airport code(s) {', '.join(unknown)} in ingest.openmeteo_api.airports are unknown; "
            "use IATA codes such as JFK."
        )
    return found


def request_url(api: OpenMeteoApi, lat: float, lon: float) -> str:
    """The archive API URL for one location (UTC hours, metric units)."""
    query = {
        "latitude": f"{lat:.4f}",
        "longitude": f"{lon:.4f}",
        "start_date": api.start_date,
        "end_date": api.end_date,
        "hourly": ",".join(api.hourly),
        "timezone": "GMT",
        "temperature_unit": "celsius",
        "wind_speed_unit": "kmh",
        "precipitation_unit": "mm",
    }
    return f"{api.base_url}?{urllib.parse.urlencode(query)}"


def fetch_json(url: str, retries: int, backoff: float, timeout: float) -> bytes:
    """GET ``url``; retry network errors and 429/5xx with exponential back-off."""
    delay = backoff
    last_error = ""
    for attempt in range(1, max(1, retries) + 1):
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:
                body = response.read()
            json.loads(body)
            return body
        except urllib.error.HTTPError as exc:
            last_error = f"HTTP {exc.code}"
            if exc.code not in RETRYABLE_STATUS:
                break
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            last_error = str(getattr(exc, "reason", exc))
        except json.JSONDecodeError:
            last_error = "the response was not JSON"
        if attempt < retries:
            log.info("Open-Meteo request failed (%s); retrying in %.1f s", last_error, delay)
            time.sleep(delay)
            delay *= 2
    host = urllib.parse.urlsplit(url).netloc
    raise PipelineError(
        f"the Open-Meteo archive API at {host} could not be reached after {retries} attempt(s) "
        f"({last_error}); check the network or set ingest.openmeteo_api.enabled to false."
    )


def fetch_archive(api: OpenMeteoApi, cache_dir: str, airports_csv: Path | None) -> list[WeatherFile]:
    """Fetch (or reuse from the cache) one archive file per airport; return them as sources."""
    coords = airport_coordinates([a.upper() for a in api.airports], airports_csv)
    folder = storage.join(cache_dir, "open-meteo")
    storage.makedirs(folder)
    sources = []
    for code, (lat, lon) in coords.items():
        target = storage.join(folder, f"{code}_{api.start_date}_{api.end_date}.json")
        if storage.exists(target):
            log.info("Open-Meteo %s: cached %s", code, storage.name(target))
        else:
            body = fetch_json(
                request_url(api, lat, lon), api.retries, api.backoff_seconds, api.timeout_seconds
            )
            # fetch_json parsed it: JSON text, written atomically.
            storage.write_text(target, body.decode("utf-8"))
            log.info("Open-Meteo %s: fetched %d bytes", code, len(body))
        sources.append(WeatherFile(path=target, airport=code))
    return sources
