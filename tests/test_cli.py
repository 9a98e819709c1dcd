"""The ``gabacalc`` command: every command, every error path, nothing written on failure."""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from gabacalc import VERIFICATION_TEXT, __version__, default_rules
from gabacalc.cli import main
from gabacalc.files.cohort_io import read_results
from gabacalc.rules import default_tables_dir
from tests.conftest import assert_safe_dose_text

REPO = Path(__file__).resolve().parent.parent

#: The README's example patient, with a fixed day 1.
EXAMPLE = [
    "--age", "72", "--sex", "female", "--weight-kg", "60", "--height-cm", "160",
    "--scr", "1.3", "--start-date", "2026-01-05",
]  # fmt: skip


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    assert "Traceback" not in result.output + result.stderr
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


# ------------------------------------------------------------------------------ help


@pytest.mark.parametrize("command", ["plan", "taper", "crcl", "cohort", "demo", "tables"])
def test_every_command_has_help_with_a_worked_example(command: str) -> None:
    code, out, _ = run(command, "--help")
    assert code == 0
    assert "Example" in out
    assert "gabacalc " + command in out


def test_the_group_help_and_version() -> None:
    code, out, _ = run("--help")
    assert code == 0 and VERIFICATION_TEXT in out
    code, out, _ = run("--version")
    assert code == 0 and __version__ in out


def test_python_dash_m_gabacalc_works() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "gabacalc", "--help"],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "Usage: gabacalc" in result.stdout


def test_a_command_line_run_ends_with_all_its_output_and_its_exit_code() -> None:
    """Run from the command line, gabacalc ends its process as soon as the command has:
    everything it printed still arrives whole through a pipe, and the exit code is kept."""

    def gabacalc(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "gabacalc", *args]
        return subprocess.run(command, capture_output=True, text=True, cwd=REPO, check=False)

    done = gabacalc("crcl", *EXAMPLE[:10])
    assert done.returncode == 0, done.stderr
    assert done.stdout.rstrip().endswith(VERIFICATION_TEXT)  # its last line, whole
    assert __version__ in done.stdout
    refused = gabacalc("crcl", "--age", "300", *EXAMPLE[2:10])
    assert refused.returncode == 2
    assert refused.stderr.startswith("Error: age 300 years is outside 18-110 years")
    # Started with no standard output, or no standard error (a shell's >&- and 2>&-).
    for closed in (">&-", "2>&-"):
        shell = f'exec "$0" -m gabacalc crcl "$@" {closed}'
        done = subprocess.run(
            ["sh", "-c", shell, sys.executable, *EXAMPLE[:10]],
            capture_output=True, text=True, cwd=REPO, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert "Traceback" not in done.stderr + done.stdout


# --------------------------------------------------------------------------- plan


def test_plan_prints_the_basis_of_every_number_then_the_steps() -> None:
    code, out, _ = run("plan", *EXAMPLE)
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == VERIFICATION_TEXT
    assert lines[-2] == VERIFICATION_TEXT and default_rules().rules_sha256 in lines[-1]
    text = " ".join(out.split())  # undo the wrapping
    assert "(140 - 72 years) x 52.4 kg / (72 x 1.3 mg/dL) x 0.85 = 32.3 mL/min" in text
    assert "ideal body weight 52.4 kg" in text
    assert "CrCl above 30 and below 60 mL/min: 400 to 1,400 mg a day, twice daily" in text
    assert "Band edges: the unrounded CrCl" in text
    assert "1,400 mg a day: 700 mg in the morning, 700 mg at bedtime" in text
    assert "efficacy review Fri 27 Feb 2026" in text
    assert "TARGET_LIMITED_RENAL" in text and "START_LOW_DEFAULT" in text
    assert "1. Mon 5 Jan 2026 to Wed 7 Jan 2026 (3 days), titration" in text
    assert (
        "gabapentin 100 mg capsule: take 1 capsule by mouth at bedtime (total 100 mg a day)" in text
    )
    assert "Review on Fri 27 Feb 2026: decide" in text
    assert "With clear benefit: continue" in text and "Without clear benefit" in text
    assert "Only if there is no clear benefit at the review on Fri 27 Feb 2026" in text
    assert_safe_dose_text(out)


def test_plan_writes_every_document_and_says_where(tmp_path: Path) -> None:
    paths = {kind: tmp_path / f"p.{kind}" for kind in ("csv", "pdf", "png", "json")}
    args = [a for kind, path in paths.items() for a in (f"--{kind}", str(path))]
    code, out, _ = run("plan", *EXAMPLE, *args)
    assert code == 0
    for path in paths.values():
        assert path.stat().st_size > 100
        assert f"Wrote {path}" in out
    assert paths["pdf"].read_bytes().startswith(b"%PDF-")
    assert paths["png"].read_bytes().startswith(b"\x89PNG")
    assert VERIFICATION_TEXT in out
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in paths.values())


def test_plan_csv_to_stdout_is_clean_csv_and_messages_go_to_stderr() -> None:
    code, out, err = run("plan", *EXAMPLE, "--csv", "-")
    assert code == 0
    table = pd.read_csv(io.StringIO(out))
    assert table["daily_mg"].max() == 1400
    assert (table["verification"] == VERIFICATION_TEXT).all()
    assert VERIFICATION_TEXT in err


def test_plan_json_to_stdout() -> None:
    code, out, _ = run("plan", *EXAMPLE, "--json", "-")
    assert code == 0
    record = json.loads(out)
    assert record["summary"]["max_daily_mg"] == 1400
    assert record["verification"] == VERIFICATION_TEXT


def test_risks_and_pain_type_reach_the_plan_and_its_flags() -> None:
    code, out, _ = run(
        "plan", *EXAMPLE, "--risk", "opioids", "--risk", "falls", "--pain-type", "non-radicular"
    )
    assert code == 0
    for flag in ("RESP_OPIOIDS", "BEERS_FALLS", "NON_RADICULAR"):
        assert flag in out


def test_choices_made_on_the_command_line_reach_the_plan() -> None:
    code, out, _ = run(
        "plan", "--age", "40", "--sex", "male", "--weight-kg", "80", "--crcl", "100",
        "--start-mg", "300", "--target-mg", "2400", "--titration", "label-phn",
        "--taper", "gradual", "--review-weeks", "4", "--start-date", "2026-03-02",
        "--strengths", "100,300", "--oral-solution", "--json", "-",
    )  # fmt: skip
    assert code == 0
    s = json.loads(out)["summary"]
    assert (s["target_daily_mg"], s["titration"], s["taper"], s["review_weeks"]) == (
        2400,
        "label-phn",
        "gradual",
        4,
    )
    assert s["allowed_forms"] == "100 mg capsule, 300 mg capsule, oral solution 250 mg per 5 mL"
    assert s["start_date"] == "2026-03-02"


def test_hemodialysis_days_and_oral_solution_reach_the_plan() -> None:
    code, out, _ = run(
        "plan", "--age", "60", "--sex", "male", "--weight-kg", "70",
        "--dialysis", "hemodialysis", "--dialysis-days", "tue,thu,sat",
        "--oral-solution", "--start-date", "2026-01-05", "--json", "-",
    )  # fmt: skip
    assert code == 0
    s = json.loads(out)["summary"]
    assert s["inputs"]["options"]["dialysis_days"] == ["tue", "thu", "sat"]
    assert "oral solution" in s["allowed_forms"]


# ------------------------------------------------------------------------ failures

ERRORS = [
    # (arguments after "plan", exit code, the exact error line)
    (
        ["--age", "72", "--sex", "female", "--weight-kg", "60", "--scr", "88"],
        2,
        "Error: serum creatinine 88 mg/dL is outside 0.2-20 mg/dL (did you mean 88 umol/L? "
        "set the creatinine unit, scr_unit / --scr-unit, to umol/L)",
    ),
    (
        [*EXAMPLE, "--risk", "smoking"],
        2,
        "Error: risk 'smoking' is not one of: opioids, cns-depressants, respiratory, falls, "
        "pregnancy, misuse, epilepsy, unstable-renal",
    ),
    (
        [*EXAMPLE, "--titration", "fast"],
        2,
        "Error: titration preset 'fast' is not one of: label-phn, weekly, gentle",
    ),
    (
        [*EXAMPLE, "--strengths", "100,abc"],
        2,
        "Error: strength 'abc' in --strengths is not a whole number of mg; give e.g. 100,300,400",
    ),
    ([*EXAMPLE, "--pagesize", "b5", "--pdf", "x.pdf"], 2, "Error: page size 'b5' is not one of: letter, a4"),  # noqa: E501
    ([*EXAMPLE, "--csv", "-", "--json", "-"], 2, "Error: only one of --csv, --json and --fhir can write to stdout (-)"),  # noqa: E501
    ([*EXAMPLE, "--pdf", "-"], 2, "Error: --pdf cannot write to stdout; give a file name"),
    (["--age", "abc", "--sex", "female", "--weight-kg", "60", "--scr", "1"], 2, "Error: age 'abc' is not a number; allowed: 18-110 years"),  # noqa: E501
    (["--sex", "female", "--weight-kg", "60", "--scr", "1"], 2, "Error: Missing option '--age'; expected: Age [years], 18-110; see 'gabacalc plan --help'"),  # noqa: E501
    ([*EXAMPLE[:-2], "--start-date", "05/01/2026"], 2, "Error: Invalid value for '--start-date': '05/01/2026' is not a date written YYYY-MM-DD, e.g. 2026-01-05; expected: Day 1, YYYY-MM-DD (default today); see 'gabacalc plan --help'"),  # noqa: E501
    ([*EXAMPLE[:-2], "--start-date", "9999-12-31"], 2, "Error: start date 9999-12-31 is outside 1990-01-01 to 2100-12-31 (gabacalc's window of plausible start dates); check the year"),  # noqa: E501
    (["--age", "50", "--sex", "male", "--weight-kg", "80", "--crcl", "250.004"], 2, "Error: creatinine clearance 250.004 mL/min is outside the range (above 0 and at most 250 mL/min)"),  # noqa: E501
]  # fmt: skip


@pytest.mark.parametrize(("args", "code", "message"), ERRORS)
def test_a_mistake_gives_one_error_line_its_exit_code_and_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], code: int, message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    outputs = ["--csv", "out.csv"] if "--csv" not in args else []
    got, _out, err = run("plan", *args, *outputs)
    assert got == code
    assert message in err.splitlines()
    assert [line for line in err.splitlines() if line.startswith("Error")] == [message]
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("range_args", "message"),
    [
        (["--review-weeks", "8"], "Error: review after 8 weeks is outside 4-6 weeks"),
        (["--target-mg", "5000"], "Error: target dose 5,000 mg/day is outside 300-3,600 mg/day"),
        (["--start-mg", "50"], "Error: start dose 50 mg/day is outside 100-300 mg/day"),
    ],
)
def test_out_of_range_options_name_the_value_and_the_range(
    range_args: list[str], message: str
) -> None:
    code, _, err = run("plan", *EXAMPLE, *range_args)
    assert code == 2
    assert err.strip() == message


def test_contradictory_inputs_are_refused() -> None:
    code, _, err = run(
        "plan", "--age", "60", "--sex", "male", "--weight-kg", "70", "--scr", "1", "--crcl", "50"
    )
    assert code == 2 and err.startswith("Error: ")
    code, _, err = run(
        "plan", "--age", "60", "--sex", "male", "--weight-kg", "70", "--scr", "5",
        "--dialysis", "hemodialysis",
    )  # fmt: skip
    assert code == 2 and err.startswith("Error: ")


def test_when_one_output_cannot_be_written_none_is(tmp_path: Path) -> None:
    good = tmp_path / "plan.csv"
    bad = tmp_path / "missing-folder" / "plan.pdf"
    code, _, err = run("plan", *EXAMPLE, "--csv", str(good), "--pdf", str(bad))
    assert code == 1
    assert err.startswith(f"Error: cannot write {str(bad)!r}")
    assert list(tmp_path.iterdir()) == []


def test_an_existing_file_is_left_whole_when_the_command_fails(tmp_path: Path) -> None:
    target = tmp_path / "plan.csv"
    target.write_text("the signed plan from last week\n")
    code, _, _ = run("plan", *EXAMPLE, "--scr", "88", "--csv", str(target))
    assert code == 2
    assert target.read_text() == "the signed plan from last week\n"


# ---------------------------------------------------------------- other commands


def test_taper_command_writes_a_taper_that_never_goes_up(tmp_path: Path) -> None:
    out_csv = tmp_path / "taper.csv"
    code, _, _ = run(
        "taper", "--age", "60", "--sex", "male", "--weight-kg", "70", "--crcl", "40",
        "--current-mg", "1800", "--current-doses", "3", "--start-date", "2026-01-05",
        "--csv", str(out_csv),
    )  # fmt: skip
    assert code == 0
    table = pd.read_csv(out_csv)
    assert table["daily_mg"].iloc[0] == 1400  # lowered at once to the band maximum
    assert table["daily_mg"].is_monotonic_decreasing
    assert table["daily_mg"].iloc[-1] == 0
    assert "CURRENT_ABOVE_BAND" in out_csv.read_text()


def test_taper_command_refuses_a_bad_administration_count() -> None:
    code, _, err = run(
        "taper", "--age", "60", "--sex", "male", "--weight-kg", "70", "--crcl", "40",
        "--current-mg", "900", "--current-doses", "5",
    )  # fmt: skip
    assert code == 2
    assert err.strip() == (
        "Error: doses per day 5 is outside 1-3 (once, twice or three times daily)"
    )


def test_crcl_shows_the_estimate_and_band_only() -> None:
    code, out, _ = run("crcl", *EXAMPLE[:-2])
    assert code == 0
    text = " ".join(out.split())
    assert "32.3 mL/min: Cockcroft-Gault: (140 - 72 years)" in text
    assert "CrCl above 30 and below 60 mL/min: 400 to 1,400 mg a day in 2 divided doses" in text
    assert "Steps" not in text
    assert out.splitlines()[0] == VERIFICATION_TEXT


def test_demo_writes_four_documents_and_prints_their_paths(tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    code, out, _ = run("demo", "--out", str(folder))
    assert code == 0
    names = sorted(p.name for p in folder.iterdir())
    assert names == ["handout.pdf", "plan.csv", "plan.json", "plan.pdf", "plan.png"]
    for name in names:
        assert f"Wrote {folder / name}" in out
    # What is printed after writing carries the verification text, version and checksum.
    assert "Illustrative plan - requires physician verification" in out
    assert f"sha256 {default_rules().rules_sha256}" in out


def test_tables_lists_every_table_with_version_checksum_and_sources() -> None:
    code, out, _ = run("tables")
    assert code == 0
    rules = default_rules()
    for name, sha in rules.table_sha256.items():
        assert name in out and sha[:16] in out
    assert f"sha256 {rules.rules_sha256}" in out
    assert "neurontin-uspi: NEURONTIN (gabapentin)" in out


def test_tables_fails_when_a_table_was_edited_without_its_manifest(tmp_path: Path) -> None:
    copy = tmp_path / "tables"
    shutil.copytree(default_tables_dir(), copy)
    bands = copy / "renal_bands.csv"
    bands.write_text(bands.read_text().replace("3600", "4800", 1))
    code, _, err = run("tables", "--dir", str(copy))
    assert code == 1
    assert err.startswith("Error: ")
    assert "renal_bands.csv" in err


def test_tables_refuses_a_missing_folder(tmp_path: Path) -> None:
    code, _, err = run("tables", "--dir", str(tmp_path / "nope"))
    assert code == 2
    assert err.strip() == f"Error: tables folder {str(tmp_path / 'nope')!r} does not exist"


# -------------------------------------------------------------------------- cohort

#: A small clinic list, one patient a line. mr-b's age is a typing slip (300): his row must
#: come back as an error naming the value, and the patients after him must still be planned.
#: mr-c takes 1,800 mg three times daily with CrCl 25 mL/min: above the band maximum
#: (700 mg/day) and more administrations than the band's one a day. mr-f, 45 with normal
#: kidneys and no risks, is the only planned patient without a warning.
CLINIC_CSV = """\
id,age_years,sex,weight_kg,height_cm,scr,scr_unit,crcl_ml_min,dialysis,risks,start_date,current_daily_mg,current_doses_per_day
mrs-a,72,female,60,160,1.3,mg/dL,,none,,2026-01-05,,
mr-b,300,male,80,180,1.0,mg/dL,,none,,2026-01-05,,
mr-c,81,male,70,,,,25,none,opioids,2026-01-05,1800,3
mr-d,66,male,80,,,,,hemodialysis,,2026-01-05,,
ms-e,45,female,70,165,115,umol/L,,none,,2026-01-05,,
mr-f,45,male,80,180,0.9,mg/dL,,none,,2026-01-05,,
"""
CLINIC_IDS = ["mrs-a", "mr-b", "mr-c", "mr-d", "ms-e", "mr-f"]


@pytest.fixture
def clinic_csv(tmp_path: Path) -> Path:
    """The clinic list above, saved as clinic.csv in an otherwise empty folder."""
    path = tmp_path / "clinic.csv"
    path.write_text(CLINIC_CSV, encoding="utf-8")
    return path


def stamp() -> list[str]:
    """The last two lines of every cohort run: verification, versions and checksum."""
    rules = default_rules()
    return [
        VERIFICATION_TEXT,
        f"gabacalc {__version__} | rule tables {rules.rules_version} (sha256 {rules.rules_sha256})",
    ]


def test_cohort_plans_every_patient_and_returns_each_row_once(clinic_csv: Path) -> None:
    """Six patients in, six rows out in the same order; the bad age is one row's error,
    not the run's; the summary counts errors and warnings; every output is stamped."""
    results = clinic_csv.with_name("plans.csv")
    code, out, err = run("cohort", str(clinic_csv), "--out", str(results))
    assert code == 0
    assert err == ""
    assert out.splitlines() == [
        f"Wrote {results}",
        "6 rows: 1 error, 4 flagged (1 above the band maximum, 1 with too many administrations)",
        *stamp(),
    ]
    table = read_results(results)
    assert list(table["id"]) == CLINIC_IDS
    by_id = table.set_index("id")
    assert by_id.loc["mr-b", "status"] == "error"
    assert by_id.loc["mr-b", "error"] == (
        "age 300 years is outside 18-110 years (gabacalc plans for adults)"
    )
    assert (by_id.drop(index="mr-b")["status"] == "ok").all()
    assert by_id.loc["mrs-a", "max_daily_mg"] == 1400  # CrCl about 32 mL/min
    assert by_id.loc["mr-c", "max_daily_mg"] == 700  # CrCl 25 mL/min
    assert by_id.loc["mr-d", "max_daily_mg"] == 300  # hemodialysis
    assert bool(by_id.loc["mr-c", "audit_above_band_max"])
    plain = pd.read_csv(results)  # pandas' defaults: every row carries the stamp
    assert (plain["verification"] == VERIFICATION_TEXT).all()
    assert (plain["rules_sha256"] == default_rules().rules_sha256).all()
    assert table.attrs["rules_sha256"] == default_rules().rules_sha256


def test_cohort_output_is_the_same_whatever_the_chunk_size_and_workers(clinic_csv: Path) -> None:
    """Reading two rows at a time, in one process or in two worker processes, gives the same
    file, byte for byte, as reading all."""
    whole = clinic_csv.with_name("whole.csv")
    assert run("cohort", str(clinic_csv), "--out", str(whole))[0] == 0
    for workers in ("1", "2"):
        in_twos = clinic_csv.with_name(f"in-twos-{workers}.csv")
        args = ("--chunk-rows", "2", "--workers", workers)
        assert run("cohort", str(clinic_csv), "--out", str(in_twos), *args)[0] == 0
        assert in_twos.read_bytes() == whole.read_bytes()


def test_cohort_replaces_an_existing_results_file(clinic_csv: Path) -> None:
    """Like the other commands, a second run overwrites the results of the first."""
    results = clinic_csv.with_name("plans.csv")
    results.write_text("last month's results\n")
    assert run("cohort", str(clinic_csv), "--out", str(results))[0] == 0
    assert list(read_results(results)["id"]) == CLINIC_IDS


def test_cohort_out_dash_writes_the_results_to_a_pipe_and_says_so_on_stderr(
    clinic_csv: Path,
) -> None:
    """``--out -`` sends the results CSV down a pipe (standard output), the same bytes as
    a results file, with what the run says of them on standard error. Standard output sent
    to a file is refused (whole or not at all would replace the file, and an appended one
    would lose what it held), and so is a workbook, which is made from the results file;
    nothing is written either way."""
    folder = clinic_csv.parent
    cohort = [sys.executable, "-m", "gabacalc", "cohort", str(clinic_csv)]
    subprocess.run([*cohort, "--out", str(folder / "results.csv"), "-q"], check=True)
    piped = subprocess.run(
        [*cohort, "--out", "-"], capture_output=True, timeout=120, check=True
    )  # capture_output: standard output is a pipe
    assert piped.stdout == (folder / "results.csv").read_bytes()
    said = piped.stderr.decode().splitlines()
    assert said[0] == "Wrote standard output" and said[-2:] == stamp()
    with (folder / "redirected.csv").open("wb") as redirected:
        to_file = subprocess.run(
            [*cohort, "--out", "-"], stdout=redirected, stderr=subprocess.PIPE, timeout=120
        )
    assert to_file.returncode == 2
    assert to_file.stderr.decode().startswith("Error: --out - writes the results to standard")
    assert (folder / "redirected.csv").read_bytes() == b""
    for out in ("-", "/dev/stdout"):
        workbook = subprocess.run(
            [*cohort, "--out", out, "--xlsx", str(folder / "results.xlsx")],
            capture_output=True,
            timeout=120,
        )
        assert workbook.returncode == 2 and workbook.stdout == b""
        assert workbook.stderr.decode().startswith("Error: --xlsx is made from the results")
    assert sorted(p.name for p in folder.iterdir()) == [
        "clinic.csv", "redirected.csv", "results.csv",
    ]  # fmt: skip


def test_cohort_writes_and_reads_parquet(clinic_csv: Path) -> None:
    """With pyarrow: Parquet out carries the same rows and stamp as CSV out, and a Parquet
    cohort in plans the same as the CSV it came from."""
    pytest.importorskip("pyarrow")
    as_csv = clinic_csv.with_name("plans.csv")
    as_parquet = clinic_csv.with_name("plans.parquet")
    assert run("cohort", str(clinic_csv), "--out", str(as_csv))[0] == 0
    code, out, _ = run("cohort", str(clinic_csv), "--out", str(as_parquet))
    assert code == 0
    assert out.splitlines()[0] == f"Wrote {as_parquet}"
    assert out.splitlines()[-2:] == stamp()
    from_csv, from_parquet = read_results(as_csv), read_results(as_parquet)
    assert list(from_parquet["id"]) == CLINIC_IDS
    assert list(from_parquet["status"]) == list(from_csv["status"])
    assert list(from_parquet["max_daily_mg"].astype("Int64")) == list(from_csv["max_daily_mg"])
    assert from_parquet.attrs["verification"] == VERIFICATION_TEXT

    cohort_parquet = clinic_csv.with_name("clinic.parquet")
    pd.read_csv(clinic_csv, dtype=str).to_parquet(cohort_parquet)
    again = clinic_csv.with_name("again.csv")
    assert run("cohort", str(cohort_parquet), "--out", str(again))[0] == 0
    assert again.read_bytes() == as_csv.read_bytes()


def test_cohort_progress_bar_only_when_asked_or_in_a_terminal(clinic_csv: Path) -> None:
    """--progress draws the "Planning" bar on stderr; by default it appears only in a
    terminal, and the test runner is not one; --no-progress never shows it. The results
    are the same either way."""
    results = clinic_csv.with_name("plans.csv")
    code, out, err = run("cohort", str(clinic_csv), "--out", str(results), "--progress")
    assert code == 0 and "Planning" in err
    assert "Planning" not in out
    with_bar = results.read_bytes()
    for args in ([], ["--no-progress"]):
        code, _, err = run("cohort", str(clinic_csv), "--out", str(results), *args)
        assert code == 0 and err == ""
        assert results.read_bytes() == with_bar


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")
def test_cohort_draws_its_progress_bar_in_a_terminal(clinic_csv: Path) -> None:
    """Run for real with stderr on a terminal: the bar appears without being asked and
    reaches 100%, while stdout (here a pipe) gets only the summary."""
    import os
    import pty

    results = clinic_csv.with_name("plans.csv")
    leader, follower = pty.openpty()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "gabacalc", "cohort", str(clinic_csv), "--out", str(results)],
            stdout=subprocess.PIPE,
            stderr=follower,
            cwd=REPO,
            check=False,
        )
    finally:
        os.close(follower)
    terminal = b""
    with contextlib.suppress(OSError):  # Linux reports the closed terminal as EIO
        while chunk := os.read(leader, 4096):
            terminal += chunk
    os.close(leader)
    assert done.returncode == 0
    assert b"Planning" in terminal and b"100%" in terminal
    assert done.stdout.decode().splitlines()[0] == f"Wrote {results}"
    assert b"Planning" not in done.stdout


NO_AGE_COLUMN = CLINIC_CSV.replace("age_years", "age", 1)

#: (what the file holds, the arguments after "cohort", exit code, the one Error line).
#: {in} and {dir} stand for the input file and its folder.
COHORT_ERRORS = [
    (NO_AGE_COLUMN, ["{in}", "--out", "{dir}/plans.csv"], 2,
     "Error: the cohort has no age_years column; found: id, age, sex, weight_kg,"),
    (None, ["{dir}/missing.csv", "--out", "{dir}/plans.csv"], 2,
     "Error: cannot read the cohort '{dir}/missing.csv': no such file"),
    ("", ["{in}", "--out", "{dir}/plans.csv"], 2,
     "Error: the cohort '{in}' is empty: it needs a header row, e.g. id,age_years,sex,weight_kg,scr"),  # noqa: E501
    (CLINIC_CSV, ["{in}", "--out", "{dir}/plans.xlsx"], 2,
     "Error: output '{dir}/plans.xlsx' is neither .csv nor .parquet; name it e.g. results.csv"),
    (CLINIC_CSV, ["{in}", "--out", "{in}"], 2,
     "Error: the output would overwrite the input; give another --out path"),
    (CLINIC_CSV, ["{in}", "--out", "{dir}/../{dirname}/clinic.csv"], 2,
     "Error: the output would overwrite the input; give another --out path"),
    (CLINIC_CSV, ["{in}", "--out", "{dir}/plans.csv", "--chunk-rows", "0"], 2,
     "Error: Invalid value for '--chunk-rows': 0 is not in the range x>=1; expected: Rows read and planned at a time; memory grows with this, not with the file; see 'gabacalc cohort --help'"),  # noqa: E501
    (CLINIC_CSV, ["{in}", "--out", "{dir}/plans.csv", "--workers", "0"], 2,
     "Error: Invalid value for '--workers': 0 is not in the range x>=1; expected: Processes planning chunks at once [default: the CPUs this process may use, at most 4]. The results are the same bytes whatever the number; see 'gabacalc cohort --help'"),  # noqa: E501
    (CLINIC_CSV, ["{in}"], 2, "Error: Missing option '--out'; expected: Results: .csv, or .parquet (needs pyarrow), or - for CSV on standard output. Written whole or not at all; see 'gabacalc cohort --help'"),  # noqa: E501
    (CLINIC_CSV, ["{in}", "--out", "{dir}/no-such-folder/plans.csv"], 1,
     "Error: cannot write '{dir}/no-such-folder/plans.csv': the folder does not exist; "
     "create the folder first, or choose one that exists"),
]  # fmt: skip


@pytest.mark.parametrize(("content", "args", "code", "message"), COHORT_ERRORS)
def test_a_cohort_mistake_gives_one_error_line_and_writes_nothing(
    tmp_path: Path, content: str | None, args: list[str], code: int, message: str
) -> None:
    """A wrong file, column or option: the exit code, one Error line that names the problem
    (and, for a column, what was found), no traceback, and no file but the input."""
    source = tmp_path / "clinic.csv"
    if content is not None:
        source.write_text(content, encoding="utf-8")
    before = sorted(tmp_path.iterdir())
    names = {"in": str(source), "dir": str(tmp_path), "dirname": tmp_path.name}
    got, out, err = run("cohort", *(a.format(**names) for a in args))
    assert got == code
    errors = [line for line in err.splitlines() if line.startswith("Error")]
    assert len(errors) == 1 and errors[0].startswith(message.format(**names))
    assert out == ""
    assert sorted(tmp_path.iterdir()) == before
    if content is not None:
        assert source.read_text(encoding="utf-8") == content  # the input is never touched


def test_a_failed_cohort_run_leaves_the_old_results_whole(tmp_path: Path) -> None:
    """The results file is written whole or not at all: a run that fails keeps last
    month's file exactly as it was."""
    source = tmp_path / "clinic.csv"
    source.write_text(NO_AGE_COLUMN, encoding="utf-8")
    results = tmp_path / "plans.csv"
    results.write_text("last month's results\n")
    code, _, _ = run("cohort", str(source), "--out", str(results))
    assert code == 2
    assert results.read_text() == "last month's results\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clinic.csv", "plans.csv"]


# ------------------------------------------------------------------------- speed


@pytest.mark.parametrize("command", ["plan", "cohort"])
def test_plan_and_cohort_to_csv_never_import_matplotlib_or_reportlab(
    tmp_path: Path, command: str
) -> None:
    if command == "plan":
        args = ["plan", *EXAMPLE, "--csv", str(tmp_path / "p.csv")]
    else:
        (tmp_path / "clinic.csv").write_text(CLINIC_CSV, encoding="utf-8")
        args = ["cohort", str(tmp_path / "clinic.csv"), "--out", str(tmp_path / "p.csv")]
    code = (
        "import sys; from click.testing import CliRunner; from gabacalc.cli import main;"
        f"r = CliRunner().invoke(main, {args!r}); assert r.exit_code == 0, r.output;"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('matplotlib', 'reportlab')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
    assert (tmp_path / "p.csv").exists()
