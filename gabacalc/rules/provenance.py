"""The provenance stamp: what every output carries so a printed plan can be traced to its rules.

One :class:`Provenance` is built per :class:`~gabacalc.rules.Rules` (``rules.provenance``)
and every output formats its stamp from it: the verification label, the gabacalc version,
and the rule tables' version and combined sha256. The label lives here, beside the rules'
version and checksum, rather than in the core's wording, so that the three parts of the
stamp sit at or below the rule tables and every layer above can use one object.

The outputs word the stamp in a few ways (a terminal line, a document footer, a chart
label); each wording is one method here, and the golden files pin every one of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gabacalc._version import __version__

__all__ = ["PROVENANCE_COLUMNS", "VERIFICATION_TEXT", "Provenance"]

#: Carried by every output a person can see.
VERIFICATION_TEXT = "Illustrative plan - requires physician verification"

#: The provenance columns every CSV row, JSON record, summary and ``attrs`` carries, in order.
PROVENANCE_COLUMNS = ("verification", "gabacalc_version", "rules_version", "rules_sha256")


@dataclass(frozen=True)
class Provenance:
    """The verification label, gabacalc's version and the rule tables' version and checksum.

    Attributes
    ----------
    gabacalc_version : str
        The gabacalc that made the output.
    rules_version : str
        The rule tables' version (``manifest.json``).
    rules_sha256 : str
        The combined sha256 of every rule table.
    verification : str
        The label every output carries; always :data:`VERIFICATION_TEXT`.

    Examples
    --------
    >>> stamp = Provenance("0.1.0", "2026.11.1", "ab" * 32)
    >>> stamp.lines()[1][:40]
    'gabacalc 0.1.0 | rule tables 2026.11.1 ('
    >>> stamp.one_line(sha_chars=12).split(" | ")[2]
    'rules 2026.11.1 (sha256 abababababab)'
    """

    gabacalc_version: str
    rules_version: str
    rules_sha256: str
    verification: str = VERIFICATION_TEXT

    @classmethod
    def of(cls, rules_version: str, rules_sha256: str) -> Provenance:
        """The stamp of rule tables with this version and checksum, made by this gabacalc."""
        return cls(__version__, rules_version, rules_sha256)

    @classmethod
    def from_record(cls, record: Mapping[Any, Any]) -> Provenance:
        """The stamp a record carries (a plan summary, a results file's ``attrs``).

        A key the record lacks reads as blank; the label is always gabacalc's own, never
        taken from a file.
        """
        return cls(
            gabacalc_version=str(record.get("gabacalc_version", "")),
            rules_version=str(record.get("rules_version", "")),
            rules_sha256=str(record.get("rules_sha256", "")),
        )

    def columns(self) -> dict[str, str]:
        """The stamp as the columns of a CSV row, a JSON record or a plan summary, in the
        order of :data:`PROVENANCE_COLUMNS`."""
        return {
            "verification": self.verification,
            "gabacalc_version": self.gabacalc_version,
            "rules_version": self.rules_version,
            "rules_sha256": self.rules_sha256,
        }

    def tables_text(self) -> str:
        """``rule tables <version> (sha256 <checksum>)``: ``gabacalc --version``."""
        return f"rule tables {self.rules_version} (sha256 {self.rules_sha256})"

    def lines(self) -> list[str]:
        """The label, then the versions: the first and last lines of terminal text."""
        return [self.verification, f"gabacalc {self.gabacalc_version} | {self.tables_text()}"]

    def sentence(self) -> str:
        """The stamp as one sentence: a calendar event's description, a FHIR note."""
        return f"{self.verification}. gabacalc {self.gabacalc_version}; {self.tables_text()}."

    def record_line(self) -> str:
        """The versions as a header line of a CSV or a workbook (after the label)."""
        return (
            f"gabacalc {self.gabacalc_version}; rule tables {self.rules_version}; "
            f"rules sha256 {self.rules_sha256}"
        )

    def footer_text(self) -> str:
        """The versions as a document's small print (the PDF's basis, the HTML footer)."""
        return (
            f"gabacalc {self.gabacalc_version}; rule tables {self.rules_version}, "
            f"sha256 {self.rules_sha256}"
        )

    def one_line(self, sha_chars: int | None = None) -> str:
        """Label and versions on one line, the checksum cut to ``sha_chars``: a chart's."""
        sha = self.rules_sha256 if sha_chars is None else self.rules_sha256[:sha_chars]
        return (
            f"{self.verification} | gabacalc {self.gabacalc_version} | "
            f"rules {self.rules_version} (sha256 {sha})"
        )

    def page_line(self) -> str:
        """Label and versions at the foot of every PDF page (the checksum's first 16)."""
        return (
            f"{self.verification} | gabacalc {self.gabacalc_version} | rules "
            f"{self.rules_version} sha256 {self.rules_sha256[:16]}"
        )
