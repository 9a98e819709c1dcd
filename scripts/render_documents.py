"""Write the example documents and render every page to PNG, to look at before a release.

Usage: python scripts/render_documents.py [FOLDER]   (needs pdftoppm from poppler-utils)

Writes the clinician's PDF and the patient's handout for the built-in example, a
hemodialysis plan, a re-plan from a current dose and a taper, with SOURCE_DATE_EPOCH set so
that the bytes are reproducible, then one PNG per page beside them.
"""

import os
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("SOURCE_DATE_EPOCH", "1767225600")

import gabacalc
from gabacalc.core.examples import EXAMPLE_START_DATE, example_patient
from gabacalc.files.plan_files import write_handout, write_pdf

folder = Path(sys.argv[1] if len(sys.argv) > 1 else "rendered-documents")
folder.mkdir(parents=True, exist_ok=True)
start = date(2026, 1, 5)
plans = {
    "example": gabacalc.build_plan(example_patient(), start_date=EXAMPLE_START_DATE),
    "hemodialysis": gabacalc.build_plan(
        gabacalc.Patient(age_years=66, sex="male", weight_kg=80, dialysis="hemodialysis"),
        start_date=start,
    ),
    "re-plan": gabacalc.build_plan(
        gabacalc.Patient(age_years=50, sex="male", weight_kg=80, crcl_ml_min=40),
        current_daily_mg=2400,
        current_doses_per_day=3,
        target_daily_mg=900,
        start_date=start,
    ),
    "taper": gabacalc.build_taper(
        gabacalc.Patient(age_years=50, sex="male", weight_kg=80, crcl_ml_min=90),
        3600,
        current_doses_per_day=3,
        start_date=start,
    ),
}
for name, plan in plans.items():
    for kind, write in (("plan", write_pdf), ("handout", write_handout)):
        path = write(plan, folder / f"{name}-{kind}.pdf")
        if shutil.which("pdftoppm"):
            subprocess.run(["pdftoppm", "-r", "70", "-png", str(path), str(path.with_suffix(""))],
                           check=True)  # fmt: skip
        print(path)
