"""A printed CrCl never contradicts its band.

The band is chosen from the unrounded CrCl (59.97 mL/min is in the band below 60). Every
place that prints a CrCl must print enough decimals that a reader who takes the printed
number at its word finds the same band: "59.97", never "60"; "30.004", never "30".
"""

from __future__ import annotations

import re
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pypdf import PdfReader

import gabacalc
from gabacalc.core.renal import crcl_text, estimate_crcl, select_band
from gabacalc.core.wording import fmt_beside_edges
from gabacalc.errors import InputError
from gabacalc.render.display import plan_html
from gabacalc.render.pdf import pdf_bytes
from gabacalc.render.records import csv_text, json_text
from gabacalc.render.terminal import estimate_text, plan_text
from gabacalc.rules import default_rules

RULES = default_rules()
EDGES = RULES.crcl_edges_ml_min
START = date(2026, 1, 5)
NUMBER = r"(\d[\d,]*(?:\.\d+)?)"


def band_of(crcl_ml_min: float) -> str:
    return RULES.band_for(crcl_ml_min).band_id


def printed(pattern: str, text: str) -> list[float]:
    """Every number the pattern's group captures in the text, as a float."""
    found = [float(m.replace(",", "")) for m in re.findall(pattern, text)]
    assert found, f"{pattern!r} not found in {text!r}"
    return found


def assert_same_band(value: float, numbers: list[float], where: str) -> None:
    for number in numbers:
        assert band_of(number) == band_of(value), (
            f"{where} prints CrCl {number} for {value!r}: band {band_of(number)} "
            f"instead of {band_of(value)}"
        )


#: CrCl values a hair either side of every band edge, on it, and anywhere in the range.
near_edges = st.one_of(
    st.sampled_from([e for e in EDGES if e > 0]).flatmap(
        lambda edge: st.floats(edge - 0.06, edge + 0.06).filter(lambda v: v > 0)
    ),
    st.sampled_from([e for e in EDGES if e > 0]).flatmap(
        lambda edge: st.sampled_from([edge, edge - 1e-9, edge + 1e-9, edge - 0.004, edge + 0.004])
    ),
    st.floats(0.5, 250),
)
IMPLAUSIBLE = RULES.threshold("implausible_crcl_above_ml_min")
#: The same, where a plan can be made with the oral solution (CrCl 1 allows 20 mg/day).
plannable = near_edges.filter(lambda v: v >= 2)


def test_the_edges_come_from_the_band_table_and_the_crcl_thresholds() -> None:
    # 0, 15, 30 and 60 bound the bands; 60 starts low below it; above 150 is implausible.
    assert EDGES == (0, 15, 30, 60, 150)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (59.97, "59.97"),  # below 60: never "60"
        (59.9999, "59.9999"),
        (60.0, "60"),  # 60 is in the 60-and-over band: "60" is right
        # Only a value on an edge is printed as the edge, whichever band the edge is in:
        # the text then holds for any reader, whether or not they know the edge rule.
        (60.04, "60.04"),
        (30.004, "30.004"),  # above 30: never "30" (30 belongs to the band up to 30)
        (30.0, "30"),
        (29.96, "29.96"),
        (15.03, "15.03"),
        (14.97, "14.97"),
        (32.349, "32.3"),  # far from an edge: one decimal
        (123.456, "123.5"),
        (150.004, "150.004"),  # above the implausible-estimate threshold: never "150"
    ],
)
def test_a_crcl_is_printed_on_its_side_of_every_edge(value: float, text: str) -> None:
    assert crcl_text(value) == text
    assert band_of(float(text)) == band_of(value)


def test_the_function_takes_its_edges_from_the_caller() -> None:
    assert fmt_beside_edges(24.96, (18.5, 25)) == "24.96"
    assert fmt_beside_edges(24.96, (18.5,)) == "25"
    assert fmt_beside_edges(0.9996, (1,), 3) == "0.9996"


@settings(max_examples=150, deadline=None)
@given(near_edges)
def test_the_printed_crcl_is_in_the_unrounded_ones_band(value: float) -> None:
    for decimals in (0, 1, 2):
        text = fmt_beside_edges(value, EDGES, decimals)
        assert band_of(float(text.replace(",", ""))) == band_of(value), text


@settings(max_examples=60, deadline=None)
@given(plannable)
def test_a_given_crcl_prints_in_its_band_in_every_text(value: float) -> None:
    patient = gabacalc.Patient(age_years=50, sex="male", weight_kg=80, crcl_ml_min=value)
    estimate = estimate_crcl(patient)
    band = select_band(estimate, "none")
    assert_same_band(value, printed(r"given: " + NUMBER, estimate.formula_text), "formula")
    assert_same_band(value, printed(r"CrCl " + NUMBER + " mL/min", band.reason), "band reason")
    assert ("(unrounded)" in band.reason) == (float(crcl_text(value, decimals=2)) == value)

    plan = gabacalc.build_plan(patient, start_date=START, oral_solution=True)
    s = plan.summary
    assert_same_band(value, [float(s["crcl_text"].replace(",", ""))], "summary crcl_text")
    for flag in s["flags"]:
        if flag["code"] in ("CRCL_GIVEN", "PROPORTIONAL_REDUCTION"):
            assert_same_band(value, printed(r"CrCl " + NUMBER, flag["message"]), flag["code"])
    text = plan_text(plan)
    assert_same_band(value, printed(r"CrCl given " + NUMBER + " mL/min", text), "patient line")
    assert_same_band(value, printed(r"CrCl +" + NUMBER + " mL/min:", text), "terminal CrCl")
    # The CSV is a plain table since issue 14 (the renal estimate and band wording went to
    # the JSON, PDF and workbook): it prints no CrCl in words, so none can contradict.
    assert not re.search(r"CrCl " + NUMBER, csv_text(plan)), "CSV"
    assert_same_band(value, printed(r"CrCl " + NUMBER + " mL/min", json_text(plan)), "JSON")
    page = re.sub(r"<[^>]+>", " ", plan_html(plan))
    assert_same_band(value, printed(r"CrCl given " + NUMBER + " mL/min", page), "HTML patient")
    assert_same_band(value, printed(r"given: " + NUMBER + " mL/min", page), "HTML formula")
    for shown in printed(r"CrCl " + NUMBER, text):  # and on its side of the 150 threshold
        assert (shown > IMPLAUSIBLE) == (value > IMPLAUSIBLE), (shown, value)


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from([e for e in EDGES if e > 0]).flatmap(
        lambda edge: st.floats(edge - 0.05, edge + 0.05)
    ),
    st.integers(18, 90),
    st.floats(45, 120),
    st.sampled_from(["female", "male"]),
)
def test_a_cockcroft_gault_estimate_prints_in_its_band(
    aimed: float, age: int, weight: float, sex: str
) -> None:
    # The creatinine that puts the estimate close to a band edge.
    factor = 0.85 if sex == "female" else 1.0
    scr = (140 - age) * weight * factor / (72 * aimed)
    if not 0.2 <= scr <= 20:
        return
    patient = gabacalc.Patient(age_years=age, sex=sex, weight_kg=weight, scr=scr)
    estimate = estimate_crcl(patient)
    assert estimate.crcl_ml_min is not None
    value = estimate.crcl_ml_min
    band = select_band(estimate, "none")
    assert_same_band(value, printed(r"= " + NUMBER + " mL/min", estimate.formula_text), "formula")
    shown = printed(r"= " + NUMBER + " mL/min", estimate.formula_text)[0]
    assert (shown > IMPLAUSIBLE) == (value > IMPLAUSIBLE), (shown, value)
    assert_same_band(value, printed(r"CrCl " + NUMBER + " mL/min", band.reason), "band reason")
    text = estimate_text(estimate, band, gabacalc.build_plan(patient).provenance, "rule")
    assert_same_band(value, printed(r"CrCl +" + NUMBER + " mL/min:", text), "terminal crcl")
    plan = gabacalc.build_plan(patient, start_date=START)
    start_low = [f for f in plan.flags if f["code"] == "START_LOW_DEFAULT"]
    if value < 60 and start_low:
        assert_same_band(value, printed(r"CrCl " + NUMBER, start_low[0]["message"]), "start low")
    for flag in plan.flags:
        if flag["code"] == "CRCL_IMPLAUSIBLE_HIGH":
            shown = printed(r"estimate of " + NUMBER + " mL/min", flag["message"])[0]
            assert shown > IMPLAUSIBLE, flag["message"]


@pytest.mark.parametrize("value", [59.97, 30.004, 15.004, 59.99999])
def test_the_pdf_prints_the_crcl_in_its_band(value: float) -> None:
    patient = gabacalc.Patient(age_years=50, sex="male", weight_kg=80, crcl_ml_min=value)
    plan = gabacalc.build_plan(patient, start_date=START)
    reader = PdfReader(__import__("io").BytesIO(pdf_bytes(plan)))
    text = " ".join((page.extract_text() or "") for page in reader.pages)
    text = re.sub(r"\s+", " ", text)
    numbers = printed(r"CrCl (?:given )?(?:given: )?" + NUMBER + r" mL/min", text)
    assert len(numbers) >= 3  # the patient line, the estimate and the band reason at least
    assert_same_band(value, numbers, "PDF")
    assert "(unrounded)" in text


def test_the_band_reason_says_unrounded_only_beside_an_unrounded_value() -> None:
    exact = gabacalc.Patient(age_years=50, sex="male", weight_kg=80, crcl_ml_min=59.97)
    assert select_band(estimate_crcl(exact), "none").reason == (
        "CrCl 59.97 mL/min (unrounded) falls in CrCl above 30 and below 60 mL/min"
    )
    rounded = gabacalc.Patient(age_years=72, sex="female", weight_kg=60, height_cm=160, scr=1.3)
    reason = select_band(estimate_crcl(rounded), "none").reason
    assert reason == (
        "CrCl 32.35 mL/min (rounded; the band uses the unrounded value) falls in "
        "CrCl above 30 and below 60 mL/min"
    )


def test_a_scale_just_below_one_is_not_printed_as_one() -> None:
    patient = gabacalc.Patient(age_years=50, sex="male", weight_kg=80, crcl_ml_min=14.9999)
    label = select_band(estimate_crcl(patient), "none").label
    assert label.endswith("(factor 0.99999)")


@pytest.mark.parametrize(
    ("kwargs", "shown"),
    [
        ({"crcl_ml_min": 250.001}, "creatinine clearance 250.001 mL/min is outside"),
        ({"crcl_ml_min": 10**-9, "age_years": 110.004}, "age 110.004 years is outside 18-110"),
        ({"scr": 20.0004}, "serum creatinine 20.0004 mg/dL is outside 0.2-20 mg/dL"),
    ],
)
def test_an_error_prints_the_value_on_its_side_of_the_limit(
    kwargs: dict[str, float], shown: str
) -> None:
    base = {"age_years": 50, "sex": "male", "weight_kg": 80, **kwargs}
    with pytest.raises(InputError) as error:
        gabacalc.Patient(**base)
    assert shown in str(error.value)


@pytest.mark.parametrize(
    ("scr", "unit", "shown"),
    [
        (0.6999, "mg/dL", "Serum creatinine 0.6999 mg/dL (61.87 umol/L) at age 70 years is below "),
        (61.87, "umol/L", "Serum creatinine 61.87 umol/L (0.6999 mg/dL) at age 70 years is below "),
        (0.5, "mg/dL", "Serum creatinine 0.5 mg/dL (44 umol/L) at age 70 years is below "),
    ],
)
def test_a_low_creatinine_is_printed_below_its_threshold(scr: float, unit: str, shown: str) -> None:
    patient = gabacalc.Patient(age_years=70, sex="male", weight_kg=70, scr=scr, scr_unit=unit)
    plan = gabacalc.build_plan(patient, start_date=START)
    message = next(f["message"] for f in plan.flags if f["code"] == "LOW_SCR_OLDER_ADULT")
    assert message.startswith(shown + "0.7 mg/dL (62 umol/L)")


def test_the_dialysis_working_prints_the_crcl_on_its_side_of_15() -> None:
    patient = gabacalc.Patient(
        age_years=60, sex="male", weight_kg=70, crcl_ml_min=14.999, dialysis="hemodialysis"
    )
    plan = gabacalc.build_plan(patient, start_date=START, oral_solution=True)
    text = plan_text(plan)
    assert "at CrCl 14.999 sits in column" in text
    assert "at CrCl 15 sits" not in text
