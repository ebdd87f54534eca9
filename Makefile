# Two entry points: `make demo` and `make test`. Both create .venv if missing and
# install the package with every extra, pinned through constraints.txt.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

export SDL_VIDEODRIVER ?= dummy
export MUJOCO_GL ?= egl

.PHONY: demo test lint docs install clean

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e ".[all]"
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/pomdp-envs render --all --episodes 1 --out videos
	$(PY) -m benchmarks run --suite quick --envs rrc --out benchmarks/results/local/demo

test: $(STAMP)
	$(PY) -m pytest -n 2 -q

# The site in docs/_build/html: environment pages first (from the registry, the docstrings
# and the committed results), then Sphinx with warnings as errors.
docs: $(STAMP)
	$(PY) docs/_scripts/gen_env_pages.py
	$(VENV)/bin/sphinx-build -W --keep-going -q -b html docs docs/_build/html

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

clean:
	rm -rf $(VENV) videos docs/_build
