"""The rule tables as typed rows: frozen dataclasses the core reads, and ``Rules`` holding them.

Nothing here reads a file: :mod:`gabacalc.rules.parse` turns the CSV rows into these, and
:func:`gabacalc.rules.load_rules` is the one way to obtain a checked ``Rules``.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from fractions import Fraction
from typing import Any

from gabacalc.errors import RuleTableError
from gabacalc.rules.provenance import Provenance

__all__ = ["RenalBand", "Rules", "Strength", "TaperPreset", "TitrationPreset"]


@dataclass(frozen=True)
class RenalBand:
    """One row of the label's renal dosing table, with gabacalc's edge convention.

    Attributes
    ----------
    band_id : str
        Stable identifier, e.g. ``"crcl-30-60"``.
    label : str
        The table's short form, e.g. ``"CrCl > 30 to < 60 mL/min"`` (kept in the table only:
        outputs print ``words``; match on ``band_id``).
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

    @functools.cached_property
    def crcl_edges_ml_min(self) -> tuple[float, ...]:
        """Every CrCl a rule compares with [mL/min], ascending: a printed CrCl keeps its side
        of each. The finite band edges, and the mL/min rows of ``clinical_thresholds.csv``
        (worked out once per Rules: every printed CrCl reads them)."""
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

    @functools.cached_property
    def provenance(self) -> Provenance:
        """The stamp every output of these tables carries (built once per ``Rules``).

        Examples
        --------
        >>> from gabacalc.rules import default_rules
        >>> rules = default_rules()
        >>> rules.provenance.rules_sha256 == rules.rules_sha256
        True
        """
        return Provenance.of(self.rules_version, self.rules_sha256)
