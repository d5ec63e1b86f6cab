#!/usr/bin/env bash
# Grades the bundled example class of hw1_features into grades.xlsx (and grades.csv, a Moodle CSV,
# feedback pages), from a fresh machine: install, grade, gradebook.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
# Exit 3: graded to the end, but some submissions were not (the broken and the PDF ones
# of the example class, named in the summary).
autograder grade hw1_features examples/submissions/hw1_features || [ $? -eq 3 ]
autograder gradebook hw1_features --out grades.xlsx
