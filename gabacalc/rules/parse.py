"""Parse the rule tables' CSV rows into typed rows, checking each table on its own.

Every reader records a problem (table, row, column, value) instead of raising, so that
loading reports every fault at once. Checks that span tables (a source cited, a preset
named, a band referred to) are in :mod:`gabacalc.rules.checks`; the bytes are read and
checked against the manifest in :mod:`gabacalc.rules.lock`.
"""

from __future__ import annotations

import csv
import io
import itertools
import math
from collections.abc import Mapping
from datetime import date
from fractions import Fraction

from gabacalc.rules.lock import Lock
from gabacalc.rules.rows import RenalBand, Rules, Strength, TaperPreset, TitrationPreset

__all__ = ["is_iso_date", "parse_csv", "parse_rules"]

Table = tuple[dict[str, str], ...]

_SEVERITIES = ("info", "caution", "warning")

#: The columns each table must have (besides source_id and source_section), in order.
_REQUIRED_COLUMNS: dict[str, str] = {
    "sources.csv": "source_id citation revision where",
    "renal_bands.csv": (
        "band_id label words printed_row lower_ml_min lower_inclusive upper_ml_min "
        "upper_inclusive min_daily_mg max_daily_mg doses_per_day "
        "proportional_below_ml_min unit"
    ),
    "hemodialysis_supplements.csv": "band_id column maintenance_daily_mg supplement_mg unit",
    "strengths.csv": (
        "form strength_mg unit_name volume_ml measure_step_ml default_allowed appearance unit"
    ),
    "titration_presets.csv": (
        "preset description step_mg ramp_steps ramp_interval_days step_interval_days"
    ),
    "titration_limits.csv": "rule daily_mg days unit",
    "taper_presets.csv": (
        "preset description kind step_mg low_threshold_mg low_step_mg fraction "
        "min_step_mg max_cut_fraction stop_from_max_mg interval_days"
    ),
    "review_rule.csv": "parameter value unit",
    "defaults.csv": "parameter value unit",
    "input_limits.csv": "parameter label min min_inclusive max max_inclusive unit",
    "formula_constants.csv": "name value unit",
    "weight_basis.csv": "bmi_lower bmi_upper weight reason",
    "flags.csv": "code severity message action",
    "texts.csv": "key text",
    "context_choices.csv": "kind name description",
    "clinical_thresholds.csv": "parameter value unit",
    "preferred_combinations.csv": "dose_mg units_mg",
    "guidance.csv": "key audience when text",
}


def parse_csv(name: str, data: bytes, problems: list[str]) -> Table:
    """The rows of one table, its cells stripped; a problem recorded for each fault."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        problems.append(f"{name}: not UTF-8 text")
        return ()
    reader = csv.DictReader(io.StringIO(text))
    header = reader.fieldnames or []
    needed = tuple(_REQUIRED_COLUMNS[name].split())
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


def is_iso_date(text: str) -> bool:
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
        if not is_iso_date(row[column]):
            self._bad(row, column, "is not a date (YYYY-MM-DD)")

    def flag(self, row: Mapping[str, str], column: str) -> bool:
        value = row[column].lower()
        if value not in ("true", "false"):
            self._bad(row, column, "is not true or false")
        return value == "true"


def _preferred_combinations(table: Table, problems: list[str]) -> dict[int, tuple[int, ...]]:
    """Dose [mg] -> the units [mg] that make it, where the label's forms suggest one."""
    cells = _Cells("preferred_combinations.csv", problems)
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
        out[dose] = units
    return out


def _bands(table: Table, problems: list[str]) -> tuple[RenalBand, ...]:
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


def _supplements(table: Table, problems: list[str]) -> dict[str, tuple[tuple[int, int, int], ...]]:
    cells = _Cells("hemodialysis_supplements.csv", problems)
    by_band: dict[str, list[tuple[int, int, int]]] = {}
    for row in table:
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


def _strengths(table: Table, problems: list[str]) -> tuple[Strength, ...]:
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


def _titration_presets(table: Table, problems: list[str]) -> dict[str, TitrationPreset]:
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
    table: Table, problems: list[str]
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


def _taper_presets(table: Table, problems: list[str]) -> dict[str, TaperPreset]:
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


def _weight_basis(table: Table, problems: list[str]) -> tuple[tuple[float, float, str, str], ...]:
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


def parse_rules(rows: Mapping[str, Table], lock: Lock, problems: list[str]) -> Rules:
    """The typed rules from every table's rows, each table checked on its own.

    The result is only usable when ``problems`` stayed empty; a malformed cell reads as a
    placeholder (``-1``, ``nan``) so the other tables can still be checked.
    """
    rise, reach, admin_size = _titration_limits(rows["titration_limits.csv"], problems)
    risks, pain_types = _context_choices(rows["context_choices.csv"], problems)
    return Rules(
        rules_version=lock.rules_version,
        rules_sha256=lock.rules_sha256,
        table_versions=dict(lock.table_versions),
        table_sha256=dict(lock.table_sha256),
        sources={r["source_id"]: r for r in rows["sources.csv"]},
        bands=_bands(rows["renal_bands.csv"], problems),
        supplements=_supplements(rows["hemodialysis_supplements.csv"], problems),
        strengths=_strengths(rows["strengths.csv"], problems),
        titration_presets=_titration_presets(rows["titration_presets.csv"], problems),
        max_rise_per_day_mg=rise,
        earliest_reach=reach,
        administration_size_mg=admin_size,
        taper_presets=_taper_presets(rows["taper_presets.csv"], problems),
        review=_review(rows["review_rule.csv"], problems),
        defaults=_parameters("defaults.csv", rows["defaults.csv"], _DEFAULTS, problems),
        limits=_input_limits(rows["input_limits.csv"], problems),
        constants=_constants(rows["formula_constants.csv"], problems),
        weight_basis=_weight_basis(rows["weight_basis.csv"], problems),
        flags=_flags(rows["flags.csv"], problems),
        texts=_texts(rows["texts.csv"], problems),
        risks=risks,
        pain_types=pain_types,
        thresholds=_thresholds(rows["clinical_thresholds.csv"], problems),
        rows=dict(rows),
        preferred_combinations=_preferred_combinations(
            rows["preferred_combinations.csv"], problems
        ),
        guidance=_guidance(rows["guidance.csv"], problems),
    )


_DEFAULTS = (
    "start_daily_mg",
    "target_daily_mg",
    "titration",
    "taper",
    "weight_basis",
    "dialysis_days",
)
_CONSTANTS = (
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
)
_TEXTS = (
    "band_edge_rule",
    "review_rule",
    "review_with_benefit",
    "review_without_benefit",
    "taper_conditional",
)
_THRESHOLDS = (
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
)


def _parameters(
    name: str, table: Table, required: tuple[str, ...], problems: list[str]
) -> dict[str, str]:
    """A parameter,value table as a mapping, every required parameter present."""
    values = {r["parameter"]: r["value"] for r in table}
    for key in required:
        if key not in values:
            problems.append(f"{name}: missing parameter {key}")
    return values


def _review(table: Table, problems: list[str]) -> dict[str, int]:
    cells = _Cells("review_rule.csv", problems)
    review = {r["parameter"]: cells.whole(r, "value") for r in table}
    for key in ("default_review_weeks", "min_days_at_target"):
        if key not in review:
            problems.append(f"review_rule.csv: missing parameter {key}")
    return review


def _input_limits(table: Table, problems: list[str]) -> dict[str, dict[str, str]]:
    cells = _Cells("input_limits.csv", problems)
    for row in table:
        if cells.number(row, "min") >= cells.number(row, "max"):
            problems.append(f"input_limits.csv row {row['parameter']!r}: min is not below max")
        cells.flag(row, "min_inclusive")
        cells.flag(row, "max_inclusive")
    return {r["parameter"]: r for r in table}


def _constants(table: Table, problems: list[str]) -> dict[str, float]:
    cells = _Cells("formula_constants.csv", problems)
    constants = {r["name"]: cells.number(r, "value") for r in table}
    for key in _CONSTANTS:
        if key not in constants:
            problems.append(f"formula_constants.csv: missing constant {key}")
    return constants


def _flags(table: Table, problems: list[str]) -> dict[str, dict[str, str]]:
    for row in table:
        if row["severity"] not in _SEVERITIES:
            problems.append(
                f"flags.csv row {row['code']!r}: severity {row['severity']!r} is not one of "
                f"{', '.join(_SEVERITIES)}"
            )
    return {r["code"]: r for r in table}


def _texts(table: Table, problems: list[str]) -> dict[str, str]:
    texts = {r["key"]: r["text"] for r in table}
    for key in _TEXTS:
        if key not in texts:
            problems.append(f"texts.csv: missing text {key}")
    return texts


def _context_choices(
    table: Table, problems: list[str]
) -> tuple[dict[str, dict[str, str]], dict[str, dict[str, str]]]:
    """The safety-context risks and the pain types."""
    for row in table:
        if row["kind"] not in ("risk", "pain_type"):
            problems.append(f"context_choices.csv: unknown kind {row['kind']!r}")
    risks = {r["name"]: r for r in table if r["kind"] == "risk"}
    pain_types = {r["name"]: r for r in table if r["kind"] == "pain_type"}
    return risks, pain_types


def _thresholds(table: Table, problems: list[str]) -> dict[str, str]:
    cells = _Cells("clinical_thresholds.csv", problems)
    for row in table:
        if row["unit"] == "date":
            cells.iso_date(row, "value")
        elif row["unit"]:
            cells.number(row, "value")
    thresholds = _parameters("clinical_thresholds.csv", table, _THRESHOLDS, problems)
    window = [thresholds.get(k, "") for k in ("start_date_earliest", "start_date_latest")]
    if all(is_iso_date(text) for text in window) and window[0] >= window[1]:
        problems.append(
            "clinical_thresholds.csv: start_date_earliest is not before start_date_latest"
        )
    return thresholds


def _guidance(table: Table, problems: list[str]) -> tuple[dict[str, str], ...]:
    for row in table:
        if row["audience"] not in ("clinician", "patient"):
            problems.append(
                f"guidance.csv row {row['key']!r}: audience {row['audience']!r} is not "
                "clinician or patient"
            )
    return tuple(table)
