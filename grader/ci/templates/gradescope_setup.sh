#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image
# (written by `grader gradescope build`).
set -euo pipefail
apt-get update
apt-get install -y --no-install-recommends python3 python3-venv python3-pip
python3 -m venv /autograder/venv
/autograder/venv/bin/python -m pip install --upgrade pip
/autograder/venv/bin/python -m pip install $install
