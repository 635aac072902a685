"""Unit tests of subband grouping (pure functions on file names; no files are opened)."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

import pytest

from dsa110_contimg.grouping import Group, check_complete, cluster, select_range

BASE = datetime(2026, 1, 15, 8, 45, 0)
FMT = "%Y-%m-%dT%H:%M:%S"


def name(t: datetime, sb: int, root: str = "/data/raw") -> str:
    return f"{root}/{t.strftime(FMT)}_sb{sb:02d}.hdf5"


def jittered_group(t0: datetime, n: int = 16, seed: int = 0, max_jitter_s: int = 20) -> list[str]:
    """``n`` subband names whose timestamps jitter by 0..max_jitter_s s; sb of the earliest is random."""
    rng = random.Random(seed)
    offsets = [rng.randint(0, max_jitter_s) for _ in range(n)]
    offsets[rng.randrange(n)] = 0  # one file carries the group's start time exactly
    return [name(t0 + timedelta(seconds=o), sb) for sb, o in enumerate(offsets)]


def test_jittered_subbands_form_one_group_named_by_earliest_timestamp():
    paths = jittered_group(BASE, seed=1)
    random.Random(2).shuffle(paths)
    groups = cluster(paths, tolerance_s=30)
    assert len(groups) == 1
    g = groups[0]
    assert g.group_id == BASE.strftime(FMT)
    assert sorted(g.files) == list(range(16))
    assert sorted(g.files.values()) == sorted(paths)
    assert g.ok


def test_group_id_is_earliest_even_when_sb00_is_late():
    paths = [name(BASE + timedelta(seconds=20 - sb), sb) for sb in range(16)]  # sb15 earliest
    (g,) = cluster(paths, tolerance_s=30)
    assert g.group_id == (BASE + timedelta(seconds=5)).strftime(FMT)
    assert g.files[15].endswith(f"{(BASE + timedelta(seconds=5)).strftime(FMT)}_sb15.hdf5")


def test_two_groups_five_minutes_apart_split():
    t1 = BASE + timedelta(minutes=5)
    paths = jittered_group(BASE, seed=3) + jittered_group(t1, seed=4)
    random.Random(5).shuffle(paths)
    groups = cluster(paths, tolerance_s=30)
    assert [g.group_id for g in groups] == [BASE.strftime(FMT), t1.strftime(FMT)]
    for g in groups:
        assert sorted(g.files) == list(range(16))


def test_file_beyond_tolerance_starts_new_group():
    paths = [name(BASE, sb) for sb in range(15)] + [name(BASE + timedelta(seconds=45), 15)]
    groups = cluster(paths, tolerance_s=30)
    assert len(groups) == 2
    assert groups[0].group_id == BASE.strftime(FMT)
    assert sorted(groups[0].files) == list(range(15))
    assert groups[1].group_id == (BASE + timedelta(seconds=45)).strftime(FMT)
    assert list(groups[1].files) == [15]
    # with a wider tolerance the same file joins the first group
    (g,) = cluster(paths, tolerance_s=60)
    assert sorted(g.files) == list(range(16))


def test_tolerance_is_measured_from_first_file_not_previous():
    # 0, 20, 40 s: each step is < 30 s but 40 s is > 30 s from the group's first file
    paths = [name(BASE, 0), name(BASE + timedelta(seconds=20), 1), name(BASE + timedelta(seconds=40), 2)]
    groups = cluster(paths, tolerance_s=30)
    assert [sorted(g.files) for g in groups] == [[0, 1], [2]]


def test_duplicated_subband_starts_new_group():
    paths = [name(BASE + timedelta(seconds=sb), sb) for sb in range(16)]
    dup = name(BASE + timedelta(seconds=18), 3)  # sb03 again, within tolerance
    groups = cluster(paths + [dup], tolerance_s=30)
    assert len(groups) == 2
    assert groups[0].files[3] == paths[3]
    assert groups[1].group_id == (BASE + timedelta(seconds=18)).strftime(FMT)
    assert groups[1].files == {3: dup}


def test_non_subband_names_are_ignored():
    paths = [name(BASE, sb) for sb in range(16)] + ["/data/raw/notes.txt", "/data/raw/2026-01-15T08:45:00.hdf5"]
    (g,) = cluster(paths, tolerance_s=30)
    assert len(g.files) == 16


def test_cluster_empty():
    assert cluster([], tolerance_s=30) == []


def _groups(*ids: str) -> list[Group]:
    return [Group(i) for i in ids]


IDS = ("2026-01-15T08:45:00", "2026-01-15T08:50:00", "2026-01-15T08:55:00", "2026-01-16T08:41:00")


def test_select_range_bounds_are_inclusive():
    got = select_range(_groups(*IDS), "2026-01-15T08:50:00", "2026-01-15T08:55:00")
    assert [g.group_id for g in got] == ["2026-01-15T08:50:00", "2026-01-15T08:55:00"]


def test_select_range_empty_bounds_are_open():
    assert [g.group_id for g in select_range(_groups(*IDS))] == list(IDS)
    assert [g.group_id for g in select_range(_groups(*IDS), start="2026-01-15T08:51:00")] == list(IDS[2:])
    assert [g.group_id for g in select_range(_groups(*IDS), end="2026-01-15T08:50:00")] == list(IDS[:2])


def test_select_range_date_only_and_z_suffix():
    assert [g.group_id for g in select_range(_groups(*IDS), start="2026-01-16")] == [IDS[3]]
    assert [g.group_id for g in select_range(_groups(*IDS), end="2026-01-15T08:45:00Z")] == [IDS[0]]


def test_select_range_excludes_everything_outside():
    assert select_range(_groups(*IDS), "2027-01-01", "2027-01-02") == []


def test_check_complete_with_four_expected_subbands():
    (g,) = check_complete(cluster([name(BASE, sb) for sb in range(4)], 30), expected=4)
    assert g.ok and g.reason == ""


def test_check_complete_reports_missing_subbands():
    (g,) = check_complete(cluster([name(BASE, sb) for sb in (0, 2)], 30), expected=4)
    assert not g.ok
    assert g.reason.startswith("incomplete")
    assert "sb01" in g.reason and "sb03" in g.reason
    assert "sb00" not in g.reason and "sb02" not in g.reason


def test_check_complete_reports_unexpected_subbands():
    (g,) = check_complete(cluster([name(BASE, sb) for sb in range(5)], 30), expected=4)
    assert not g.ok
    assert "sb04" in g.reason and "expected_subbands=4" in g.reason


@pytest.mark.parametrize("drop", [0, 7, 15])
def test_check_complete_sixteen_minus_one(drop):
    paths = [name(BASE + timedelta(seconds=sb), sb) for sb in range(16) if sb != drop]
    (g,) = check_complete(cluster(paths, 30), expected=16)
    assert g.reason == f"incomplete: missing subband(s) sb{drop:02d}"
