"""Read, validate and fingerprint the clinical rule tables in ``tables/``.

Every clinical number gabacalc uses lives in a CSV table with a ``source_id`` and a
``source_section`` on each row. ``manifest.json`` records each table's version and sha256;
loading recomputes the hashes (line endings normalised), validates every table, reports
all problems at once, and refuses to return rules that do not match the manifest.

This is an edge module: it reads files. The core receives the resulting ``Rules``.
"""

from __future__ import annotations

import csv
import dataclasses
import functools
import hashlib
import io
import itertools
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from fractions import Fraction
from pathlib import Path
from typing import Any

from gabacalc.errors import RuleTableError
from gabacalc.rules.flags import registry_problems

__all__ = [
    "RenalBand",
    "Rules",
    "Strength",
    "TaperPreset",
    "TitrationPreset",
    "clinical_basis_text",
    "default_rules",
    "default_tables_dir",
    "load_rules",
    "table_sha256",
    "write_manifest",
]

#: Every table gabacalc reads, in the order they are listed to users.
TABLE_FILES: tuple[str, ...] = (
    "sources.csv",
    "renal_bands.csv",
    "hemodialysis_supplements.csv",
    "strengths.csv",
    "titration_presets.csv",
    "titration_limits.csv",
    "taper_presets.csv",
    "review_rule.csv",
    "defaults.csv",
    "input_limits.csv",
    "formula_constants.csv",
    "weight_basis.csv",
    "flags.csv",
    "texts.csv",
    "context_choices.csv",
    "clinical_thresholds.csv",
    "preferred_combinations.csv",
    "guidance.csv",
)
MANIFEST = "manifest.json"
_SEVERITIES = ("info", "caution", "warning")
_FIX_HINT = (
    "if the change to the table was reviewed, record it with "
    "`python scripts/update_manifest.py` (or gabacalc.rules.write_manifest); "
    "otherwise restore the file from the release"
)


@dataclass(frozen=True)
class RenalBand:
    """One row of the label's renal dosing table, with gabacalc's edge convention.

    Attributes
    ----------
    band_id : str
        Stable identifier, e.g. ``"crcl-30-60"``.
    label : str
        The band as data other code matches on, e.g. ``"CrCl > 30 to < 60 mL/min"``.
    words : str
        The band as a person reads it, in words, e.g. ``"CrCl above 30 and below 60 mL/min"``.
    lower_ml_min, upper_ml_min : float
        Band edges [mL/min]; ``upper_ml_min`` may be ``inf``.
    lower_inclusive, upper_inclusive : bool
        Whether each edge belongs to the band.
    min_daily_mg, max_daily_mg : int
        The labelled total daily dose range [mg/day] before any proportional reduction.
    doses_per_day : int
        Administrations per day.
    proportional_below_ml_min : float or None
        Below this CrCl the range is scaled by CrCl / this value (the label's footnote).
    """

    band_id: str
    label: str
    words: str
    printed_row: str
    lower_ml_min: float
    lower_inclusive: bool
    upper_ml_min: float
    upper_inclusive: bool
    min_daily_mg: int
    max_daily_mg: int
    doses_per_day: int
    proportional_below_ml_min: float | None
    source_id: str
    source_section: str

    def contains(self, crcl_ml_min: Any) -> Any:
        """Whether an unrounded CrCl [mL/min] falls in this band (a scalar or an array)."""
        above = (
            crcl_ml_min >= self.lower_ml_min
            if self.lower_inclusive
            else crcl_ml_min > self.lower_ml_min
        )
        below = (
            crcl_ml_min <= self.upper_ml_min
            if self.upper_inclusive
            else crcl_ml_min < self.upper_ml_min
        )
        return above & below


@dataclass(frozen=True)
class Strength:
    """A dosage form and strength from the label (section 3)."""

    form: str
    strength_mg: int
    unit_name: str
    volume_ml: float | None
    measure_step_ml: float | None
    default_allowed: bool
    source_id: str
    source_section: str
    appearance: str = ""

    @property
    def is_solution(self) -> bool:
        """True for the oral solution (measured by volume)."""
        return self.volume_ml is not None


@dataclass(frozen=True)
class TitrationPreset:
    """How a titration climbs: an optional daily ramp, then a step every few days."""

    preset: str
    description: str
    step_mg: int
    ramp_steps: int
    ramp_interval_days: int
    step_interval_days: int
    source_id: str
    source_section: str


@dataclass(frozen=True)
class TaperPreset:
    """How a taper comes down: fixed steps or a fraction of the current dose."""

    preset: str
    description: str
    kind: str
    step_mg: int | None
    low_threshold_mg: int | None
    low_step_mg: int | None
    fraction: float | None
    min_step_mg: int | None
    max_cut_fraction: Fraction | None
    stop_from_max_mg: int
    interval_days: int
    source_id: str
    source_section: str


@dataclass(frozen=True)
class Rules:
    """The validated rule tables, with their version and checksum.

    Obtain one with :func:`load_rules` or :func:`default_rules`; never build it by hand.
    """

    rules_version: str
    rules_sha256: str
    table_versions: Mapping[str, str]
    table_sha256: Mapping[str, str]
    sources: Mapping[str, Mapping[str, str]]
    bands: tuple[RenalBand, ...]
    supplements: Mapping[str, tuple[tuple[int, int, int], ...]]
    strengths: tuple[Strength, ...]
    titration_presets: Mapping[str, TitrationPreset]
    max_rise_per_day_mg: int
    earliest_reach: tuple[tuple[int, int], ...]
    administration_size_mg: int
    taper_presets: Mapping[str, TaperPreset]
    review: Mapping[str, int]
    defaults: Mapping[str, str]
    limits: Mapping[str, Mapping[str, str]]
    constants: Mapping[str, float]
    weight_basis: tuple[tuple[float, float, str, str], ...]
    flags: Mapping[str, Mapping[str, str]]
    texts: Mapping[str, str]
    risks: Mapping[str, Mapping[str, str]]
    pain_types: Mapping[str, Mapping[str, str]]
    thresholds: Mapping[str, str]
    rows: Mapping[str, tuple[Mapping[str, str], ...]]
    preferred_combinations: Mapping[int, tuple[int, ...]] = dataclasses.field(default_factory=dict)
    guidance: tuple[Mapping[str, str], ...] = ()

    def threshold(self, name: str) -> float:
        """A numeric row of ``clinical_thresholds.csv``."""
        return float(self.thresholds[name])

    @property
    def crcl_edges_ml_min(self) -> tuple[float, ...]:
        """Every CrCl a rule compares with [mL/min], ascending: a printed CrCl keeps its side
        of each. The finite band edges, and the mL/min rows of ``clinical_thresholds.csv``."""
        edges = {b.lower_ml_min for b in self.bands} | {b.upper_ml_min for b in self.bands}
        edges |= {
            float(row["value"])
            for row in self.rows["clinical_thresholds.csv"]
            if row["unit"] == "mL/min"
        }
        return tuple(sorted(e for e in edges if math.isfinite(e)))

    @property
    def start_date_window(self) -> tuple[date, date]:
        """The earliest and latest start date a plan accepts (``clinical_thresholds.csv``)."""
        return (
            date.fromisoformat(self.thresholds["start_date_earliest"]),
            date.fromisoformat(self.thresholds["start_date_latest"]),
        )

    def band_for(self, crcl_ml_min: float) -> RenalBand:
        """The one band an unrounded CrCl [mL/min] falls in."""
        for band in self.bands:
            if band.contains(crcl_ml_min):
                return band
        raise RuleTableError([f"no renal band contains CrCl {crcl_ml_min!r} mL/min"])

    def band_by_id(self, band_id: str) -> RenalBand:
        """The band with this identifier."""
        for band in self.bands:
            if band.band_id == band_id:
                return band
        raise RuleTableError([f"no renal band named {band_id!r}"])

    def source_of(self, table: str) -> tuple[str, str]:
        """The ``(source_id, source_section)`` of a one-row-per-rule table's first row."""
        row = self.rows[table][0]
        return row["source_id"], row["source_section"]


def table_sha256(data: bytes) -> str:
    """sha256 of a table's bytes with line endings normalised to LF.

    Examples
    --------
    >>> table_sha256(b"a,b\\r\\n1,2\\r\\n") == table_sha256(b"a,b\\n1,2\\n")
    True
    """
    normalised = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    return hashlib.sha256(normalised).hexdigest()


def combined_sha256(per_table: Mapping[str, str]) -> str:
    """One checksum over every table's checksum, in file-name order."""
    text = "".join(f"{name} {per_table[name]}\n" for name in sorted(per_table))
    return hashlib.sha256(text.encode()).hexdigest()


#: The conventions the tables cite as "clinical-basis section N".
CLINICAL_BASIS = "clinical-basis.md"


def clinical_basis_path() -> Path:
    """Where docs/clinical-basis.md is: inside the installed wheel, or the source tree's."""
    here = Path(__file__).resolve().parent.parent  # the gabacalc package
    packaged = here / "docs" / CLINICAL_BASIS
    return packaged if packaged.is_file() else here.parent / "docs" / CLINICAL_BASIS


def clinical_basis_text() -> str:
    """The clinical basis document: gabacalc's conventions, in numbered sections.

    Examples
    --------
    >>> clinical_basis_text().splitlines()[0]
    '# gabacalc clinical basis'
    """
    path = clinical_basis_path()
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RuleTableError([f"{path}: cannot read the clinical basis ({exc})"]) from None


def default_tables_dir() -> Path:
    """Where the shipped tables are: inside the installed wheel, or the source tree's."""
    here = Path(__file__).resolve().parent.parent  # the gabacalc package
    packaged = here / "tables"
    if (packaged / MANIFEST).is_file():
        return packaged
    return here.parent / "tables"


def write_manifest(tables_dir: str | Path, rules_version: str) -> Path:
    """Record every table's sha256 (and one version for all) in ``manifest.json``.

    Run only after a clinical reviewer has approved the table changes.
    """
    folder = Path(tables_dir)
    tables = {
        name: {"version": rules_version, "sha256": table_sha256((folder / name).read_bytes())}
        for name in TABLE_FILES
    }
    manifest = {"rules_version": rules_version, "tables": tables}
    path = folder / MANIFEST
    path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path


@functools.cache
def default_rules() -> Rules:
    """The shipped rule tables, loaded and validated once per process.

    Examples
    --------
    >>> rules = default_rules()
    >>> rules is default_rules(), rules.rules_sha256 == load_rules().rules_sha256
    (True, True)
    """
    return load_rules(default_tables_dir())


def load_rules(tables_dir: str | Path | None = None) -> Rules:
    """Load, hash-check and validate the rule tables in a folder.

    Parameters
    ----------
    tables_dir : str or Path, optional
        The folder holding the CSV tables and ``manifest.json``; default the shipped ones.

    Returns
    -------
    Rules
        The validated tables with ``rules_version`` and ``rules_sha256``.

    Raises
    ------
    RuleTableError
        Listing every problem found: a missing file, a checksum that does not match the
        manifest (with the fix), a malformed value, an unknown source, bands that leave a
        gap or overlap, maxima that rise as CrCl falls, an unknown unit.

    Examples
    --------
    >>> rules = load_rules()
    >>> [b.band_id for b in rules.bands]
    ['crcl-60-plus', 'crcl-30-60', 'crcl-15-30', 'crcl-15-or-less']
    >>> len(rules.rules_sha256)
    64
    """
    folder = Path(tables_dir) if tables_dir is not None else default_tables_dir()
    problems: list[str] = []
    manifest_path = folder / MANIFEST
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        manifest_tables = manifest["tables"]
        rules_version = str(manifest["rules_version"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise RuleTableError([f"{manifest_path}: cannot read the manifest ({exc})"]) from None

    raw: dict[str, bytes] = {}
    for name in TABLE_FILES:
        path = folder / name
        try:
            raw[name] = path.read_bytes()
        except OSError:
            problems.append(f"{path}: missing (every rule table must be present)")
    if problems:
        raise RuleTableError(problems)

    sha = {name: table_sha256(data) for name, data in raw.items()}
    for name in TABLE_FILES:
        entry = manifest_tables.get(name)
        if not isinstance(entry, dict) or "sha256" not in entry:
            problems.append(f"{folder / name}: not recorded in {MANIFEST}; {_FIX_HINT}")
        elif entry["sha256"] != sha[name]:
            problems.append(
                f"{folder / name}: sha256 {sha[name][:12]}... does not match the manifest's "
                f"{str(entry['sha256'])[:12]}...; {_FIX_HINT}"
            )
    if problems:
        raise RuleTableError(problems)

    rows = {name: _parse_csv(name, data, problems) for name, data in raw.items()}
    if problems:
        raise RuleTableError(problems)
    rules = _build(rows, problems, rules_version, sha, manifest_tables)
    if problems or rules is None:
        raise RuleTableError(problems)
    return rules


# --------------------------------------------------------------------------- parsing

_REQUIRED_COLUMNS: dict[str, tuple[str, ...]] = {
    "sources.csv": ("source_id", "citation", "revision", "where"),
    "renal_bands.csv": (
        "band_id",
        "label",
        "words",
        "printed_row",
        "lower_ml_min",
        "lower_inclusive",
        "upper_ml_min",
        "upper_inclusive",
        "min_daily_mg",
        "max_daily_mg",
        "doses_per_day",
        "proportional_below_ml_min",
        "unit",
    ),
    "hemodialysis_supplements.csv": (
        "band_id",
        "column",
        "maintenance_daily_mg",
        "supplement_mg",
        "unit",
    ),
    "strengths.csv": (
        "form",
        "strength_mg",
        "unit_name",
        "volume_ml",
        "measure_step_ml",
        "default_allowed",
        "appearance",
        "unit",
    ),
    "titration_presets.csv": (
        "preset",
        "description",
        "step_mg",
        "ramp_steps",
        "ramp_interval_days",
        "step_interval_days",
    ),
    "titration_limits.csv": ("rule", "daily_mg", "days", "unit"),
    "taper_presets.csv": (
        "preset",
        "description",
        "kind",
        "step_mg",
        "low_threshold_mg",
        "low_step_mg",
        "fraction",
        "min_step_mg",
        "max_cut_fraction",
        "stop_from_max_mg",
        "interval_days",
    ),
    "review_rule.csv": ("parameter", "value", "unit"),
    "defaults.csv": ("parameter", "value", "unit"),
    "input_limits.csv": (
        "parameter",
        "label",
        "min",
        "min_inclusive",
        "max",
        "max_inclusive",
        "unit",
    ),
    "formula_constants.csv": ("name", "value", "unit"),
    "weight_basis.csv": ("bmi_lower", "bmi_upper", "weight", "reason"),
    "flags.csv": ("code", "severity", "message", "action"),
    "texts.csv": ("key", "text"),
    "context_choices.csv": ("kind", "name", "description"),
    "clinical_thresholds.csv": ("parameter", "value", "unit"),
    "preferred_combinations.csv": ("dose_mg", "units_mg"),
    "guidance.csv": ("key", "audience", "when", "text"),
}


def _parse_csv(name: str, data: bytes, problems: list[str]) -> tuple[dict[str, str], ...]:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        problems.append(f"{name}: not UTF-8 text")
        return ()
    reader = csv.DictReader(io.StringIO(text))
    header = reader.fieldnames or []
    needed = _REQUIRED_COLUMNS[name]
    if name != "sources.csv":
        needed = (*needed, "source_id", "source_section")
    missing = [c for c in needed if c not in header]
    if missing:
        problems.append(f"{name}: missing column(s) {', '.join(missing)}")
        return ()
    out = []
    for line_no, row in enumerate(reader, start=2):
        if None in row or any(v is None for v in row.values()):
            problems.append(f"{name} line {line_no}: wrong number of fields")
            continue
        out.append({k: v.strip() for k, v in row.items()})
    if not out:
        problems.append(f"{name}: has no rows")
    return tuple(out)


def _is_iso_date(text: str) -> bool:
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return len(text) == 10  # YYYY-MM-DD, not the other forms fromisoformat accepts


class _Cells:
    """Typed cell readers that record a problem instead of raising."""

    def __init__(self, table: str, problems: list[str]) -> None:
        self.table = table
        self.problems = problems

    def _bad(self, row: Mapping[str, str], column: str, what: str) -> None:
        key = next(iter(row.values()), "?")
        self.problems.append(f"{self.table} row {key!r}: {column} {row.get(column)!r} {what}")

    def number(self, row: Mapping[str, str], column: str, *, blank_ok: bool = False) -> float:
        value = row[column]
        if value == "" and blank_ok:
            return math.nan
        try:
            return float(value)
        except ValueError:
            self._bad(row, column, "is not a number")
            return math.nan

    def whole(self, row: Mapping[str, str], column: str, *, blank_ok: bool = False) -> int:
        value = self.number(row, column, blank_ok=blank_ok)
        if math.isnan(value):
            return -1
        if value != int(value) or value < 0:
            self._bad(row, column, "is not a whole number >= 0")
            return -1
        return int(value)

    def iso_date(self, row: Mapping[str, str], column: str) -> None:
        if not _is_iso_date(row[column]):
            self._bad(row, column, "is not a date (YYYY-MM-DD)")

    def flag(self, row: Mapping[str, str], column: str) -> bool:
        value = row[column].lower()
        if value not in ("true", "false"):
            self._bad(row, column, "is not true or false")
        return value == "true"


def _build(
    rows: Mapping[str, tuple[dict[str, str], ...]],
    problems: list[str],
    rules_version: str,
    sha: Mapping[str, str],
    manifest_tables: Mapping[str, Mapping[str, str]],
) -> Rules | None:
    sources = {r["source_id"]: r for r in rows["sources.csv"]}
    for name, table in rows.items():
        if name == "sources.csv":
            continue
        for row in table:
            if row["source_id"] not in sources:
                problems.append(f"{name}: source_id {row['source_id']!r} is not in sources.csv")
            if not row["source_section"]:
                problems.append(f"{name}: a row has an empty source_section")
        if "unit" in (table[0] if table else {}) and name in (
            "renal_bands.csv",
            "hemodialysis_supplements.csv",
            "strengths.csv",
            "titration_limits.csv",
        ):
            for row in table:
                if row["unit"] != "mg":
                    problems.append(f"{name}: unit {row['unit']!r} is not mg")

    bands = _bands(rows["renal_bands.csv"], problems)
    band_ids = {b.band_id for b in bands}
    supplements = _supplements(
        rows["hemodialysis_supplements.csv"], band_ids if bands else None, problems
    )
    strengths = _strengths(rows["strengths.csv"], problems)
    titration = _titration_presets(rows["titration_presets.csv"], problems)
    rise, reach, admin_size = _titration_limits(rows["titration_limits.csv"], problems)
    tapers = _taper_presets(rows["taper_presets.csv"], problems)

    cells = _Cells("review_rule.csv", problems)
    review = {r["parameter"]: cells.whole(r, "value") for r in rows["review_rule.csv"]}
    for key in ("default_review_weeks", "min_days_at_target"):
        if key not in review:
            problems.append(f"review_rule.csv: missing parameter {key}")

    defaults = {r["parameter"]: r["value"] for r in rows["defaults.csv"]}
    for key in (
        "start_daily_mg",
        "target_daily_mg",
        "titration",
        "taper",
        "weight_basis",
        "dialysis_days",
    ):
        if key not in defaults:
            problems.append(f"defaults.csv: missing parameter {key}")
    if defaults.get("titration") not in titration:
        problems.append(f"defaults.csv: titration {defaults.get('titration')!r} is not a preset")
    if defaults.get("taper") not in tapers:
        problems.append(f"defaults.csv: taper {defaults.get('taper')!r} is not a preset")

    limits = {r["parameter"]: r for r in rows["input_limits.csv"]}
    cells = _Cells("input_limits.csv", problems)
    for row in rows["input_limits.csv"]:
        if cells.number(row, "min") >= cells.number(row, "max"):
            problems.append(f"input_limits.csv row {row['parameter']!r}: min is not below max")
        cells.flag(row, "min_inclusive")
        cells.flag(row, "max_inclusive")

    cells = _Cells("formula_constants.csv", problems)
    constants = {r["name"]: cells.number(r, "value") for r in rows["formula_constants.csv"]}
    for key in (
        "cg_age_offset",
        "cg_divisor",
        "cg_female_factor",
        "scr_umol_per_mg_dl",
        "ibw_base_male_kg",
        "ibw_base_female_kg",
        "ibw_kg_per_inch",
        "ibw_base_height_in",
        "cm_per_inch",
        "abw_factor",
    ):
        if key not in constants:
            problems.append(f"formula_constants.csv: missing constant {key}")

    weight_basis = _weight_basis(rows["weight_basis.csv"], problems)

    flags = {r["code"]: r for r in rows["flags.csv"]}
    problems.extend(registry_problems(flags))
    for row in rows["flags.csv"]:
        if row["severity"] not in _SEVERITIES:
            problems.append(
                f"flags.csv row {row['code']!r}: severity {row['severity']!r} is not one of "
                f"{', '.join(_SEVERITIES)}"
            )
    texts = {r["key"]: r["text"] for r in rows["texts.csv"]}
    for key in (
        "band_edge_rule",
        "review_rule",
        "review_with_benefit",
        "review_without_benefit",
        "taper_conditional",
    ):
        if key not in texts:
            problems.append(f"texts.csv: missing text {key}")

    risks = {r["name"]: r for r in rows["context_choices.csv"] if r["kind"] == "risk"}
    pain_types = {r["name"]: r for r in rows["context_choices.csv"] if r["kind"] == "pain_type"}
    for row in rows["context_choices.csv"]:
        if row["kind"] not in ("risk", "pain_type"):
            problems.append(f"context_choices.csv: unknown kind {row['kind']!r}")
    thresholds = {r["parameter"]: r["value"] for r in rows["clinical_thresholds.csv"]}
    cells = _Cells("clinical_thresholds.csv", problems)
    for row in rows["clinical_thresholds.csv"]:
        if row["unit"] == "date":
            cells.iso_date(row, "value")
        elif row["unit"]:
            cells.number(row, "value")
    for key in (
        "older_adult_age_years",
        "start_low_crcl_below_ml_min",
        "start_low_risks",
        "start_low_start_daily_mg",
        "start_low_titration",
        "no_added_benefit_above_mg",
        "implausible_crcl_above_ml_min",
        "low_scr_older_adult_below_mg_dl",
        "start_date_earliest",
        "start_date_latest",
    ):
        if key not in thresholds:
            problems.append(f"clinical_thresholds.csv: missing parameter {key}")
    window = [thresholds.get(k, "") for k in ("start_date_earliest", "start_date_latest")]
    if all(_is_iso_date(text) for text in window) and window[0] >= window[1]:
        problems.append(
            "clinical_thresholds.csv: start_date_earliest is not before start_date_latest"
        )
    if thresholds.get("start_low_titration") not in titration:
        problems.append("clinical_thresholds.csv: start_low_titration is not a titration preset")
    for name in thresholds.get("start_low_risks", "").split(";"):
        if name and name not in risks:
            problems.append(f"clinical_thresholds.csv: start_low_risks names unknown {name!r}")

    preferred = _preferred_combinations(rows["preferred_combinations.csv"], strengths, problems)
    guidance = tuple(rows["guidance.csv"])
    for row in guidance:
        if row["audience"] not in ("clinician", "patient"):
            problems.append(
                f"guidance.csv row {row['key']!r}: audience {row['audience']!r} is not "
                "clinician or patient"
            )

    if problems:
        return None
    return Rules(
        rules_version=rules_version,
        rules_sha256=combined_sha256(sha),
        table_versions={n: str(manifest_tables[n].get("version", rules_version)) for n in sha},
        table_sha256=dict(sha),
        sources=sources,
        bands=bands,
        supplements=supplements,
        strengths=strengths,
        titration_presets=titration,
        max_rise_per_day_mg=rise,
        earliest_reach=reach,
        administration_size_mg=admin_size,
        taper_presets=tapers,
        review=review,
        defaults=defaults,
        limits=limits,
        constants=constants,
        weight_basis=weight_basis,
        flags=flags,
        texts=texts,
        risks=risks,
        pain_types=pain_types,
        thresholds=thresholds,
        rows=dict(rows),
        preferred_combinations=preferred,
        guidance=guidance,
    )


def _preferred_combinations(
    table: tuple[dict[str, str], ...], strengths: tuple[Strength, ...], problems: list[str]
) -> dict[int, tuple[int, ...]]:
    """Dose [mg] -> the units [mg] that make it, where the label's forms suggest one."""
    cells = _Cells("preferred_combinations.csv", problems)
    solids = {s.strength_mg for s in strengths if not s.is_solution}
    out: dict[int, tuple[int, ...]] = {}
    for row in table:
        dose = cells.whole(row, "dose_mg")
        try:
            units = tuple(sorted((int(x) for x in row["units_mg"].split(";")), reverse=True))
        except ValueError:
            problems.append(f"preferred_combinations.csv row {dose}: units_mg is not mg;mg")
            continue
        if sum(units) != dose:
            problems.append(f"preferred_combinations.csv row {dose}: units do not add up")
        if not set(units) <= solids:
            problems.append(f"preferred_combinations.csv row {dose}: a unit is not a strength")
        out[dose] = units
    return out


def _bands(table: tuple[dict[str, str], ...], problems: list[str]) -> tuple[RenalBand, ...]:
    cells = _Cells("renal_bands.csv", problems)
    before = len(problems)
    bands = []
    for row in table:
        below = cells.number(row, "proportional_below_ml_min", blank_ok=True)
        bands.append(
            RenalBand(
                band_id=row["band_id"],
                label=row["label"],
                words=row["words"],
                printed_row=row["printed_row"],
                lower_ml_min=cells.number(row, "lower_ml_min"),
                lower_inclusive=cells.flag(row, "lower_inclusive"),
                upper_ml_min=cells.number(row, "upper_ml_min"),
                upper_inclusive=cells.flag(row, "upper_inclusive"),
                min_daily_mg=cells.whole(row, "min_daily_mg"),
                max_daily_mg=cells.whole(row, "max_daily_mg"),
                doses_per_day=cells.whole(row, "doses_per_day"),
                proportional_below_ml_min=None if math.isnan(below) else below,
                source_id=row["source_id"],
                source_section=row["source_section"],
            )
        )
    if len(problems) > before:  # a malformed band: its edges cannot be checked
        return ()
    # Highest CrCl first: the order a reader scans the label's table in.
    ordered = sorted(bands, key=lambda b: b.lower_ml_min, reverse=True)
    ascending = ordered[::-1]
    if ascending[0].lower_ml_min != 0 or not ascending[0].lower_inclusive:
        problems.append("renal_bands.csv: the lowest band must start at CrCl 0 (inclusive)")
    if not math.isinf(ascending[-1].upper_ml_min):
        problems.append("renal_bands.csv: the highest band must reach CrCl infinity")
    for low, high in itertools.pairwise(ascending):
        if low.upper_ml_min != high.lower_ml_min:
            kind = "gap" if low.upper_ml_min < high.lower_ml_min else "overlap"
            problems.append(
                f"renal_bands.csv: {kind} between {low.band_id} (up to {low.upper_ml_min:g}) "
                f"and {high.band_id} (from {high.lower_ml_min:g})"
            )
        elif low.upper_inclusive == high.lower_inclusive:
            kind = "overlap" if low.upper_inclusive else "gap"
            problems.append(
                f"renal_bands.csv: {kind} at CrCl {low.upper_ml_min:g}: exactly one of "
                f"{low.band_id} and {high.band_id} must include the edge"
            )
        if high.max_daily_mg < low.max_daily_mg or high.min_daily_mg < low.min_daily_mg:
            problems.append(
                f"renal_bands.csv: the dose range rises as CrCl falls from {high.band_id} "
                f"to {low.band_id}"
            )
    for band in bands:
        if band.min_daily_mg > band.max_daily_mg:
            problems.append(f"renal_bands.csv row {band.band_id!r}: min above max")
        if band.doses_per_day < 1:
            problems.append(f"renal_bands.csv row {band.band_id!r}: doses_per_day below 1")
    return tuple(ordered)


def _supplements(
    table: tuple[dict[str, str], ...], band_ids: set[str] | None, problems: list[str]
) -> dict[str, tuple[tuple[int, int, int], ...]]:
    cells = _Cells("hemodialysis_supplements.csv", problems)
    by_band: dict[str, list[tuple[int, int, int]]] = {}
    for row in table:
        if band_ids is not None and row["band_id"] not in band_ids:
            problems.append(
                f"hemodialysis_supplements.csv: band_id {row['band_id']!r} is not a renal band"
            )
        by_band.setdefault(row["band_id"], []).append(
            (
                cells.whole(row, "column"),
                cells.whole(row, "maintenance_daily_mg"),
                cells.whole(row, "supplement_mg"),
            )
        )
    out: dict[str, tuple[tuple[int, int, int], ...]] = {}
    columns_by_band = {}
    for band_id, entries in by_band.items():
        entries.sort()
        columns_by_band[band_id] = [c for c, _, _ in entries]
        maint = [m for _, m, _ in entries]
        if maint != sorted(set(maint)):
            problems.append(
                f"hemodialysis_supplements.csv: maintenance doses of {band_id} do not rise "
                "with the column"
            )
        out[band_id] = tuple(entries)
    # The label's columns line up across rows: the same column gives the same supplement.
    per_column: dict[int, set[int]] = {}
    for stored in out.values():
        for column, _, supplement in stored:
            per_column.setdefault(column, set()).add(supplement)
    for column, values in sorted(per_column.items()):
        if len(values) > 1:
            problems.append(
                f"hemodialysis_supplements.csv: column {column} has different supplements "
                f"{sorted(values)} across bands"
            )
    if len({tuple(c) for c in columns_by_band.values()}) > 1:
        problems.append("hemodialysis_supplements.csv: bands do not share the same columns")
    return out


def _strengths(table: tuple[dict[str, str], ...], problems: list[str]) -> tuple[Strength, ...]:
    cells = _Cells("strengths.csv", problems)
    out = []
    for row in table:
        volume = cells.number(row, "volume_ml", blank_ok=True)
        step = cells.number(row, "measure_step_ml", blank_ok=True)
        is_solution = row["form"] == "oral_solution"
        if is_solution and (math.isnan(volume) or math.isnan(step)):
            problems.append("strengths.csv: the oral solution needs volume_ml and measure_step_ml")
        out.append(
            Strength(
                form=row["form"],
                strength_mg=cells.whole(row, "strength_mg"),
                unit_name=row["unit_name"],
                volume_ml=None if math.isnan(volume) else volume,
                measure_step_ml=None if math.isnan(step) else step,
                default_allowed=cells.flag(row, "default_allowed"),
                source_id=row["source_id"],
                source_section=row["source_section"],
                appearance=row["appearance"],
            )
        )
    if sum(s.is_solution for s in out) > 1:
        problems.append("strengths.csv: more than one oral solution row")
    return tuple(out)


def _titration_presets(
    table: tuple[dict[str, str], ...], problems: list[str]
) -> dict[str, TitrationPreset]:
    cells = _Cells("titration_presets.csv", problems)
    out = {}
    for row in table:
        preset = TitrationPreset(
            preset=row["preset"],
            description=row["description"],
            step_mg=cells.whole(row, "step_mg"),
            ramp_steps=cells.whole(row, "ramp_steps"),
            ramp_interval_days=cells.whole(row, "ramp_interval_days"),
            step_interval_days=cells.whole(row, "step_interval_days"),
            source_id=row["source_id"],
            source_section=row["source_section"],
        )
        if preset.step_mg <= 0 or preset.step_interval_days < 1:
            problems.append(f"titration_presets.csv row {preset.preset!r}: step must be positive")
        if preset.ramp_steps > 0 and preset.ramp_interval_days < 1:
            problems.append(f"titration_presets.csv row {preset.preset!r}: ramp interval < 1")
        out[preset.preset] = preset
    return out


def _fraction(row: dict[str, str], column: str, problems: list[str]) -> Fraction | None:
    """An exact fraction cell ("1/3" or "0.25"), or None when blank."""
    text = row[column].strip()
    if not text:
        return None
    try:
        return Fraction(text)
    except (ValueError, ZeroDivisionError):
        problems.append(f"taper_presets.csv: {column} {text!r} is not a fraction such as 1/3")
        return None


def _titration_limits(
    table: tuple[dict[str, str], ...], problems: list[str]
) -> tuple[int, tuple[tuple[int, int], ...], int]:
    cells = _Cells("titration_limits.csv", problems)
    rise = admin = -1
    reach = []
    for row in table:
        if row["rule"] == "max_rise_per_day":
            rise = cells.whole(row, "daily_mg")
        elif row["rule"] == "earliest_reach":
            reach.append((cells.whole(row, "daily_mg"), cells.whole(row, "days")))
        elif row["rule"] == "administration_size":
            admin = cells.whole(row, "daily_mg")
        else:
            problems.append(f"titration_limits.csv: unknown rule {row['rule']!r}")
    if rise <= 0:
        problems.append("titration_limits.csv: needs a positive max_rise_per_day")
    if admin <= 0:
        problems.append("titration_limits.csv: needs a positive administration_size")
    return rise, tuple(sorted(reach)), admin


def _taper_presets(
    table: tuple[dict[str, str], ...], problems: list[str]
) -> dict[str, TaperPreset]:
    cells = _Cells("taper_presets.csv", problems)
    out = {}
    for row in table:

        def opt_whole(column: str, row: dict[str, str] = row) -> int | None:
            return None if row[column] == "" else cells.whole(row, column)

        fraction = cells.number(row, "fraction", blank_ok=True)
        preset = TaperPreset(
            preset=row["preset"],
            description=row["description"],
            kind=row["kind"],
            step_mg=opt_whole("step_mg"),
            low_threshold_mg=opt_whole("low_threshold_mg"),
            low_step_mg=opt_whole("low_step_mg"),
            fraction=None if math.isnan(fraction) else fraction,
            min_step_mg=opt_whole("min_step_mg"),
            max_cut_fraction=_fraction(row, "max_cut_fraction", problems),
            stop_from_max_mg=cells.whole(row, "stop_from_max_mg"),
            interval_days=cells.whole(row, "interval_days"),
            source_id=row["source_id"],
            source_section=row["source_section"],
        )
        if preset.kind == "fixed":
            if not (preset.step_mg and preset.low_step_mg and preset.low_threshold_mg):
                problems.append(
                    f"taper_presets.csv row {preset.preset!r}: a fixed taper needs step_mg, "
                    "low_threshold_mg and low_step_mg above 0"
                )
        elif preset.kind == "proportional":
            cut = preset.max_cut_fraction
            if (
                preset.fraction is None
                or not 0 < preset.fraction < 1
                or not preset.min_step_mg
                or cut is None
                or not preset.fraction <= cut < 1
            ):
                problems.append(
                    f"taper_presets.csv row {preset.preset!r}: a proportional taper needs "
                    "0 < fraction <= max_cut_fraction < 1 and min_step_mg above 0"
                )
        else:
            problems.append(
                f"taper_presets.csv row {preset.preset!r}: unknown kind {preset.kind!r}"
            )
        if preset.interval_days < 7:
            problems.append(
                f"taper_presets.csv row {preset.preset!r}: steps shorter than 7 days "
                "(the label asks for at least 1 week)"
            )
        if preset.stop_from_max_mg <= 0:
            problems.append(
                f"taper_presets.csv row {preset.preset!r}: stop_from_max_mg must be above 0"
            )
        out[preset.preset] = preset
    return out


def _weight_basis(
    table: tuple[dict[str, str], ...], problems: list[str]
) -> tuple[tuple[float, float, str, str], ...]:
    cells = _Cells("weight_basis.csv", problems)
    out = sorted(
        (cells.number(r, "bmi_lower"), cells.number(r, "bmi_upper"), r["weight"], r["reason"])
        for r in table
    )
    known = {"actual", "ideal", "adjusted", "lower-of-ideal-and-actual"}
    for low, high, weight, _ in out:
        if weight not in known:
            problems.append(f"weight_basis.csv: unknown weight {weight!r}")
        if not low < high:
            problems.append(f"weight_basis.csv: BMI {low:g}-{high:g} is empty")
    if out and (out[0][0] != 0 or not math.isinf(out[-1][1])):
        problems.append("weight_basis.csv: the BMI rows must cover 0 to infinity")
    for a, b in itertools.pairwise(out):
        if a[1] != b[0]:
            problems.append(f"weight_basis.csv: gap or overlap at BMI {a[1]:g}")
    return tuple(out)
