#!/usr/bin/env bash
# Grades the bundled example class of hw1_features into grades.xlsx (and grades.csv, a Moodle CSV,
# feedback pages), from a fresh machine: install, grade, gradebook.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
autograder grade hw1_features examples/submissions/hw1_features
autograder gradebook hw1_features --out grades.xlsx
