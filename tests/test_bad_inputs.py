"""Bad inputs fail loudly: the right exception type, a message naming the file and the problem.

Every damaged-file test works on ``group_copy`` (a private copy of one small simulated
group), so damage never leaks into other tests.
"""

from __future__ import annotations

import csv
import dataclasses
import os
import re
import warnings

import h5py
import numpy as np
import pytest
import yaml

from dsa110_contimg import grouping
from dsa110_contimg.config import DEFAULT_CONFIG_PATH, ConfigError, load_config, validate
from dsa110_contimg.conversion.convert import ConversionError, convert_group
from dsa110_contimg.geometry import StationFileError, StationFileWarning, read_station_file
from dsa110_contimg.settings import Settings
from dsa110_contimg.uvh5_io import UVH5Error, parse_name, read_header, read_visibilities

WRITERS = ["monolithic", "parallel"]


# ----------------------------------------------------------------------------- helpers


def convert(files: list[str], out_ms: str, cfg: dict, *, writer: str = "auto") -> dict:
    """convert_group with the config dict of a fixture and the given writer."""
    s = Settings.from_config(cfg)
    return convert_group(files, out_ms, telescope=s.telescope, conversion=dataclasses.replace(s.conversion, writer=writer))


def by_subband(files: list[str]) -> dict[int, str]:
    return {parse_name(f)[1]: f for f in files}


def raw_dir_of(files: list[str]) -> str:
    (d,) = {os.path.dirname(f) for f in files}
    return d


def out_paths(tmp_path, cfg: dict) -> str:
    """Output MS path in its own directory, staging in a private directory we can inspect."""
    cfg["conversion"]["stage_dir"] = str(tmp_path / "stage")
    return str(tmp_path / "out" / "bad.ms")


def assert_nothing_written(out_ms: str, stage: str) -> None:
    """No MS at ``out_ms``, no hidden temp/incoming dirs beside it, nothing left in staging."""
    assert not os.path.exists(out_ms), f"half-written MS left at {out_ms}"
    for d in (os.path.dirname(out_ms), stage):
        if os.path.isdir(d):
            assert os.listdir(d) == [], f"leftovers in {d}: {os.listdir(d)}"


def truncate_half(path: str) -> None:
    size = os.path.getsize(path)
    with open(path, "r+b") as fh:
        fh.truncate(size // 2)


def garble_start(path: str) -> None:
    rng = np.random.default_rng(0)
    with open(path, "r+b") as fh:
        fh.seek(0)
        fh.write(rng.integers(0, 256, 512, dtype=np.uint8).tobytes())


def garble_flags_chunk(path: str) -> None:
    """Damage the (compressed) Data/flags chunk: the header still reads, the data do not."""
    with h5py.File(path, "r") as f:
        ds = f["Data/flags"]
        assert ds.compression is not None, "test needs a filtered dataset to damage"
        info = ds.id.get_chunk_info(0)
    with open(path, "r+b") as fh:
        fh.seek(info.byte_offset)
        fh.write(b"\xff" * info.size)


# ----------------------------------------------------------------------------- missing subband


def test_missing_subband_goes_to_ledger(group_copy, tmp_path):
    _cfg, _truth, files = group_copy
    sb = by_subband(files)
    os.remove(sb[7])
    remaining = [p for k, p in sb.items() if k != 7]
    expected_id = min(parse_name(p)[0] for p in remaining)

    groups = grouping.discover(raw_dir_of(files), tolerance_s=30.0, expected=16)
    assert len(groups) == 1
    (g,) = groups
    assert g.group_id == expected_id
    assert not g.ok
    assert g.reason.startswith("incomplete")
    assert "sb07" in g.reason
    assert sorted(g.files) == [k for k in range(16) if k != 7]

    ledger = tmp_path / "ledger" / "groups.csv"
    grouping.write_ledger(groups, str(ledger))
    with open(ledger, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 1
    row = rows[0]
    assert row["group"] == expected_id
    assert int(row["n_files"]) == 15
    assert row["files_present"].split() == [f"sb{k:02d}" for k in range(16) if k != 7]
    assert row["reason"] == g.reason
    assert "sb07" in row["reason"]
    # the ledger is written atomically: only the CSV is left in its directory
    assert os.listdir(ledger.parent) == ["groups.csv"]


def test_complete_group_leaves_ledger_empty(group_copy, tmp_path):
    _cfg, _truth, files = group_copy
    groups = grouping.discover(raw_dir_of(files), tolerance_s=30.0, expected=16)
    assert [g.ok for g in groups] == [True]
    ledger = tmp_path / "groups.csv"
    grouping.write_ledger(groups, str(ledger))
    with open(ledger, newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows == [grouping.LEDGER_COLUMNS]


def test_convert_with_missing_file_path(group_copy, tmp_path):
    cfg, _truth, files = group_copy
    gone = files[3]
    os.remove(gone)
    out_ms = out_paths(tmp_path, cfg)
    with pytest.raises(ConversionError, match=rf"not found: .*{re.escape(gone)}"):
        convert(files, out_ms, cfg)
    assert_nothing_written(out_ms, cfg["conversion"]["stage_dir"])


# ----------------------------------------------------------------------------- damaged HDF5


@pytest.mark.parametrize("damage", [truncate_half, garble_start], ids=["truncated", "corrupt-start"])
def test_damaged_file_read_header(group_copy, damage):
    _cfg, _truth, files = group_copy
    bad = by_subband(files)[5]
    damage(bad)
    with pytest.raises(UVH5Error, match=rf"^{re.escape(bad)}: .*truncated or corrupt"):
        read_header(bad)
    # the other subbands are unaffected
    read_header(by_subband(files)[4])


@pytest.mark.parametrize("damage", [truncate_half, garble_start], ids=["truncated", "corrupt-start"])
def test_damaged_file_marks_group_unreadable(group_copy, damage):
    _cfg, _truth, files = group_copy
    bad = by_subband(files)[5]
    damage(bad)
    (g,) = grouping.discover(raw_dir_of(files), tolerance_s=30.0, expected=16)
    assert not g.ok
    assert g.reason.startswith("unreadable")
    assert bad in g.reason
    assert "truncated or corrupt" in g.reason
    # discovery without reading cannot see the damage
    (g2,) = grouping.discover(raw_dir_of(files), tolerance_s=30.0, expected=16, read=False)
    assert g2.ok


@pytest.mark.parametrize("writer", WRITERS)
@pytest.mark.parametrize("damage", [truncate_half, garble_start], ids=["truncated", "corrupt-start"])
def test_damaged_file_convert_fails_cleanly(group_copy, tmp_path, damage, writer):
    cfg, _truth, files = group_copy
    bad = by_subband(files)[5]
    damage(bad)
    out_ms = out_paths(tmp_path, cfg)
    with pytest.raises(ConversionError, match=rf"{re.escape(bad)}: .*truncated or corrupt"):
        convert(files, out_ms, cfg, writer=writer)
    assert_nothing_written(out_ms, cfg["conversion"]["stage_dir"])


def test_damaged_file_does_not_replace_existing_ms(group_copy, tmp_path):
    """A failed reconversion leaves a previous good MS in place, untouched."""
    cfg, _truth, files = group_copy
    out_ms = out_paths(tmp_path, cfg)
    convert(files, out_ms, cfg, writer="parallel")
    marker = os.path.join(out_ms, "table.dat")
    assert os.path.isfile(marker)
    before = os.stat(marker).st_mtime_ns
    truncate_half(by_subband(files)[9])
    with pytest.raises(ConversionError, match="truncated or corrupt"):
        convert(files, out_ms, cfg, writer="parallel")
    assert os.stat(marker).st_mtime_ns == before
    assert os.listdir(os.path.dirname(out_ms)) == [os.path.basename(out_ms)]


@pytest.mark.parametrize("writer", WRITERS)
def test_corrupt_data_section_leaves_no_ms(group_copy, tmp_path, writer):
    """Header fine, data unreadable: the failure happens mid-write; nothing half-written stays."""
    cfg, _truth, files = group_copy
    bad = by_subband(files)[6]
    garble_flags_chunk(bad)
    read_header(bad)  # the header check cannot see this damage
    with pytest.raises(UVH5Error, match=rf"^{re.escape(bad)}: reading the visibilities failed"):
        read_visibilities(bad)
    out_ms = out_paths(tmp_path, cfg)
    with pytest.raises(Exception):  # noqa: B017,PT011 - the type is pinned by the xfail test below
        convert(files, out_ms, cfg, writer=writer)
    assert_nothing_written(out_ms, cfg["conversion"]["stage_dir"])


@pytest.mark.parametrize("writer", WRITERS)
def test_corrupt_data_section_raises_conversion_error(group_copy, tmp_path, writer):
    cfg, _truth, files = group_copy
    bad = by_subband(files)[6]
    garble_flags_chunk(bad)
    with pytest.raises(ConversionError, match=re.escape(bad)):
        convert(files, out_paths(tmp_path, cfg), cfg, writer=writer)


# ----------------------------------------------------------------------------- inconsistent subbands


def shift_times(path: str, seconds: float) -> None:
    with h5py.File(path, "r+") as f:
        f["Header/time_array"][...] = f["Header/time_array"][()] + seconds / 86400.0


def roll_ant2(path: str) -> None:
    with h5py.File(path, "r+") as f:
        a2 = f["Header/ant_2_array"][()]
        f["Header/ant_2_array"][...] = np.roll(a2, 1)


# (subband damaged, damage, ConversionError pattern with {name}, word in the ledger reason)
DISAGREE = {
    "times": (5, lambda p: shift_times(p, 60.0), r"integration times of {name} differ .* by 60\.0 s", "integration times"),
    "antennas": (11, roll_ant2, r"antennas/baseline order of {name} differ", "antennas"),
}


@pytest.mark.parametrize("writer", WRITERS)
@pytest.mark.parametrize("what", sorted(DISAGREE))
def test_subbands_disagree_convert(group_copy, tmp_path, writer, what):
    cfg, _truth, files = group_copy
    sb, damage, pattern, _word = DISAGREE[what]
    bad = by_subband(files)[sb]
    damage(bad)
    out_ms = out_paths(tmp_path, cfg)
    with pytest.raises(ConversionError, match=pattern.format(name=re.escape(os.path.basename(bad)))):
        convert(files, out_ms, cfg, writer=writer)
    assert_nothing_written(out_ms, cfg["conversion"]["stage_dir"])


@pytest.mark.parametrize("what", sorted(DISAGREE))
def test_subbands_disagree_discover(group_copy, what):
    _cfg, _truth, files = group_copy
    sb, damage, _pattern, word = DISAGREE[what]
    bad = by_subband(files)[sb]
    damage(bad)
    (g,) = grouping.discover(raw_dir_of(files), tolerance_s=30.0, expected=16)
    assert not g.ok
    assert g.reason.startswith("inconsistent")
    assert word in g.reason and os.path.basename(bad) in g.reason


def test_small_time_offset_is_tolerated(group_copy):
    """Sub-second disagreement (below the 1 s tolerance) is not a problem."""
    _cfg, _truth, files = group_copy
    shift_times(by_subband(files)[5], 0.3)
    (g,) = grouping.discover(raw_dir_of(files), tolerance_s=30.0, expected=16)
    assert g.ok, g.reason


def test_shape_disagreement(group_copy, tmp_path):
    """A subband with a different Nblts (e.g. one integration short) is named."""
    cfg, _truth, files = group_copy
    bad = by_subband(files)[2]
    with h5py.File(bad, "r+") as f:
        f["Header/Nblts"][...] = f["Header/Nblts"][()] - 1
    # the header now contradicts the data shape: read_header rejects the file itself
    with pytest.raises(UVH5Error, match=rf"^{re.escape(bad)}: Data/visdata has shape"):
        read_header(bad)
    with pytest.raises(ConversionError, match=re.escape(bad)):
        convert(files, out_paths(tmp_path, cfg), cfg)


# ----------------------------------------------------------------------------- station file

TITLE = ",,,,\n,,,,\n,DSA-110 Station Coordinates,,,\n,Last updated:,,2/15/2022,\n,,,,\n"
HEADER = ",Station Number,Latitude,Longitude,Elevation (meters)\n"
ROWS = [
    ",DSA-001,37.2333752,-118.2856408,1182.6",
    ",DSA-002,37.2333752,-118.2855760,1182.6",
    ",DSA-003,37.2333752,-118.2855112,1183.4",
    ",DSA-004,37.2333752,-118.2854464,1180.0",
]


def write_station_csv(path, rows, crlf: bool = True) -> str:
    text = TITLE + HEADER + "\n".join(rows) + "\n"
    if crlf:
        text = text.replace("\n", "\r\n")
    path.write_bytes(text.encode())
    return str(path)


@pytest.mark.parametrize("crlf", [True, False])
def test_station_missing_elevation_filled_with_median(tmp_path, crlf):
    path = write_station_csv(tmp_path / "stations.csv", [*ROWS, ",DSA-005,37.2315343,-118.2966607,"], crlf)
    fill = float(np.median([1182.6, 1182.6, 1183.4, 1180.0]))
    with pytest.warns(StationFileWarning, match=rf"^{re.escape(path)}: station\(s\) DSA-005 have no elevation.* {fill:.1f} m"):
        st = read_station_file(path)
    assert st.names == ["DSA-001", "DSA-002", "DSA-003", "DSA-004", "DSA-005"]
    assert list(st.numbers) == [1, 2, 3, 4, 5]
    assert st.height_m[-1] == pytest.approx(fill)
    assert np.all(np.isfinite(st.height_m))
    assert st.lat_deg[-1] == pytest.approx(37.2315343)
    assert st.lon_deg[-1] == pytest.approx(-118.2966607)


def test_station_complete_file_does_not_warn(tmp_path):
    path = write_station_csv(tmp_path / "stations.csv", ROWS)
    with warnings.catch_warnings():
        warnings.simplefilter("error", StationFileWarning)
        st = read_station_file(path)
    assert len(st) == 4


def test_station_missing_latitude_is_error(tmp_path):
    rows = [*ROWS[:2], ",DSA-003,,-118.2855112,1183.4", *ROWS[3:]]
    path = write_station_csv(tmp_path / "stations.csv", rows)
    # five title lines, header on line 6, DSA-001 on line 7 -> DSA-003 on line 9
    with pytest.raises(StationFileError, match=rf"^{re.escape(path)}, line 9: station DSA-003 has a missing or non-numeric latitude"):
        read_station_file(path)


def test_station_non_numeric_longitude_is_error(tmp_path):
    rows = [*ROWS[:3], ",DSA-004,37.2333752,west,1180.0"]
    path = write_station_csv(tmp_path / "stations.csv", rows)
    with pytest.raises(StationFileError, match=rf"{re.escape(path)}, line 10: station DSA-004 .*'west'"):
        read_station_file(path)


def test_station_file_without_header_is_error(tmp_path):
    path = tmp_path / "stations.csv"
    path.write_text("\n".join(r.lstrip(",") for r in ROWS) + "\n")
    with pytest.raises(StationFileError, match=rf"^{re.escape(str(path))}: no header row"):
        read_station_file(str(path))


def test_station_file_missing_is_error(tmp_path):
    path = str(tmp_path / "nope.csv")
    with pytest.raises(StationFileError, match=rf"{re.escape(path)}.*does not exist.*telescope\.station_file"):
        read_station_file(path)


def test_real_station_file(station_file):
    with pytest.warns(StationFileWarning, match=r"DSA-117 have no elevation") as rec:
        st = read_station_file(station_file)
    assert len(rec) == 1 and station_file in str(rec[0].message)
    assert len(st) == 117
    assert st.names[0] == "DSA-001" and st.names[-1] == "DSA-117"
    assert list(st.numbers) == list(range(1, 118))
    others = st.height_m[:-1]
    assert np.all(np.isfinite(st.height_m))
    assert st.height_m[-1] == pytest.approx(float(np.median(others)))
    assert f"{float(np.median(others)):.1f} m" in str(rec[0].message)


# ----------------------------------------------------------------------------- config and writer


def test_config_bad_writer_value():
    with open(DEFAULT_CONFIG_PATH) as fh:
        cfg = yaml.safe_load(fh)
    cfg["conversion"]["writer"] = "fast"
    with pytest.raises(ConfigError, match=r"conversion/writer: 'fast' is not one of"):
        validate(cfg)


def test_config_bad_values_all_reported():
    with pytest.raises(ConfigError) as exc:
        load_config(overrides={"conversion.writer": "fast", "conversion.workers": 0, "expected_subbands": "sixteen"})
    msg = str(exc.value)
    for key in ("conversion/writer", "conversion/workers", "expected_subbands"):
        assert key in msg


def test_config_unknown_key():
    with pytest.raises(ConfigError, match=r"conversion: .*'writter'"):
        load_config(overrides={"conversion.writter": "auto"})


def test_convert_unknown_writer(group_copy, tmp_path):
    cfg, _truth, files = group_copy
    out_ms = out_paths(tmp_path, cfg)
    with pytest.raises(ConversionError, match=r"unknown writer 'bogus'; choose one of auto, monolithic, parallel"):
        convert(files, out_ms, cfg, writer="bogus")
    assert_nothing_written(out_ms, cfg["conversion"]["stage_dir"])


def test_convert_no_files(corrupted_group, tmp_path):
    cfg = corrupted_group[0]
    with pytest.raises(ConversionError, match="no subband files"):
        convert([], str(tmp_path / "x.ms"), cfg)


def test_header_cache_reads_each_file_once_and_sees_changes(group_copy, tmp_path, monkeypatch):
    """Discovery through the header cache: the first pass opens all 16 files, the next opens
    none (h5py is never called) and gives the same verdict; a file damaged afterwards (new size
    and mtime) is read again and marks the group unreadable, naming the file."""
    from dsa110_contimg.header_cache import HeaderCache

    _cfg, _truth, files = group_copy
    db = str(tmp_path / "cache" / "headers.sqlite3")
    cache = HeaderCache(db)
    (g,) = grouping.discover(raw_dir_of(files), tolerance_s=30.0, expected=16, cache=cache)
    assert g.ok and cache.reads == 16
    cache.close()
    cache = HeaderCache(db)
    with monkeypatch.context() as m:
        m.setattr(h5py, "File", lambda *a, **k: (_ for _ in ()).throw(AssertionError("file opened")))
        (g2,) = grouping.discover(raw_dir_of(files), tolerance_s=30.0, expected=16, cache=cache)
    assert g2.ok and cache.reads == 0
    assert cache.header(files[0]).nfreqs == read_header(files[0]).nfreqs
    bad = by_subband(files)[5]
    truncate_half(bad)
    (g3,) = grouping.discover(raw_dir_of(files), tolerance_s=30.0, expected=16, cache=cache)
    assert cache.reads == 1 and not g3.ok and bad in g3.reason and "truncated or corrupt" in g3.reason
