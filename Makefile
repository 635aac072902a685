# dsa110-contimg: the two commands a new user needs are `make run` and `make test`.
# Both create .venv from pinned versions (constraints.txt) on first use.

PYTHON ?= $(shell command -v python3.11 2>/dev/null || echo python3)
VENV   := .venv
BIN    := $(VENV)/bin
CORES  ?= 2
export CASASITECONFIG := $(CURDIR)/config/casa/casasiteconfig.py
export MPLBACKEND := Agg

.PHONY: venv system-deps run test lint dryrun bench bench-plan bench-conversion report truth clean seeds strip strip-12h

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "Python 3.11 is required (casatools 6.7.0 wheels); set PYTHON=/path/to/python3.11"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	$(BIN)/python -c 'from dsa110_contimg.casa_env import configure_casa; configure_casa(); import casatools; print("CASA", casatools.version_string(), "offline data OK")'
	touch $@

## run: simulate the demo observation (or use input_dir) and run every target (all)
run: venv system-deps
	$(BIN)/snakemake --profile profiles/local --cores $(CORES) all

## system-deps: Debian's wsclean, the default imager (root only; else set imaging.backend: tclean)
system-deps:
	@command -v wsclean >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    (apt-get install -y -qq wsclean >/dev/null 2>&1 || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wsclean) \
	      || echo "note: apt-get could not install wsclean; set imaging.backend: tclean (its tests are skipped)"); \
	  else echo "note: wsclean not installed (apt-get install wsclean as root); set imaging.backend: tclean (its tests are skipped)"; fi; }

## test: the whole test suite (unit + end-to-end on small simulated data)
test: venv system-deps
	$(BIN)/python -m pytest -q

lint: venv
	$(BIN)/snakemake --lint

dryrun: venv
	$(BIN)/snakemake -n --cores $(CORES)

## bench: a full-size calibrator transit and science group through the workflow's rules
## (per-stage wall, CPU, RSS; the science group against the 309 s budget), then the
## science group imaged by the default path, tclean and WSClean side by side
bench: venv system-deps
	$(BIN)/python -m dsa110_contimg.tools.bench_chain --work bench/chain --cores $(CORES)
	$(BIN)/python -m dsa110_contimg.tools.bench_plan --days 1 7 30 --work bench/plan

## bench-plan: how long a dry run of 1, 7 and 30 days of a full-day strip takes
bench-plan: venv
	$(BIN)/python -m dsa110_contimg.tools.bench_plan --days 1 7 30 --work bench/plan

## bench-conversion: the conversion writers and the calibration steps on a full-size group
bench-conversion: venv
	$(BIN)/python -m dsa110_contimg.tools.bench_conversion --out-dir bench/work
	$(BIN)/python -m dsa110_contimg.tools.bench_calibration --work bench/work

## truth: compare the demo's calibration and images (after `make run`) with the simulator's truth
truth: venv
	$(BIN)/python -m dsa110_contimg.tools.truth results

## strip: a simulated drift-scan strip (config/strip.yaml: transit + 3 h of groups a day), then its truth figures
strip: venv system-deps
	$(BIN)/snakemake --profile profiles/local --cores $(CORES) --configfile config/config.yaml config/strip.yaml all
	$(BIN)/python -m dsa110_contimg.tools.truth strip

## strip-12h: 12 h of a strip sampled every 31 min (config/strip_12h.yaml): field solves 0.6-12 h from the transit
strip-12h: venv system-deps
	$(BIN)/snakemake --profile profiles/local --cores $(CORES) --configfile config/config.yaml config/strip_12h.yaml all
	$(BIN)/python -m dsa110_contimg.tools.truth strip_12h

## seeds: the demo with simulator seeds 1, 2, 3 (~25 min): ESE detections and false positives
seeds: venv
	$(BIN)/python -m dsa110_contimg.tools.ese_seeds --seeds 1 2 3 --cores $(CORES) --out-root seeds

report: venv
	$(BIN)/snakemake --profile profiles/local --cores $(CORES) --report results/report.html all

clean:
	rm -rf results strip strip_12h .snakemake bench/work bench/chain
