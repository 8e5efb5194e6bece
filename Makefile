# Two commands do all set-up on a fresh machine:
#   make demo   create .venv (CPU PyTorch, the package in editable mode) and run the main job
#   make test   ruff, then every test, the notebooks under nbval included (quick settings: IAPIX_QUICK=1)
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
TORCH  ?= torch==2.13.0
# CPU wheels (a plain PyPI `torch` on Linux is a multi-GB CUDA build); unreachable -> PyPI / local wheels
TORCH_INDEX ?= https://download.pytorch.org/whl/cpu

.PHONY: demo test test-browser notebooks venv data bench clean

venv: $(VENV)/.installed

# Reuse a torch the user already has (the venv then sees the system site-packages);
# otherwise install the CPU wheel (a bare `torch` would pull a multi-GB CUDA build).
$(VENV)/.installed: pyproject.toml
	@if $(PYTHON) -c "import torch" 2>/dev/null; then \
		echo "using the torch already installed for $(PYTHON)"; \
		$(PYTHON) -m venv --system-site-packages $(VENV); \
	else \
		$(PYTHON) -m venv $(VENV) && \
		$(PY) -m pip install -q --retries 1 --timeout 15 --extra-index-url $(TORCH_INDEX) "$(TORCH)"; \
	fi
	$(PY) -m pip install -q -e ".[test,bench]"
	@touch $@

# The main job on the embedded data: prepare -> a short `small` IA run (three epochs of one pass each:
# 3 x 56 = 168 steps) -> its curves and reconstructions -> what the shipped 5-category IA model draws from each of
# its Gaussians, beside real test sketches of each category. Run it again and the demo run is resumed
# (finished: nothing to redo).
demo: venv
	$(PY) -m iapix.cli prepare --data data --preview out/data_preview.png
	$(PY) -m iapix.cli train --config small --categories cat pig --objective ia --epoch-steps 0 \
		--max-epochs 3 --data data --out runs/demo-ia --device auto $$(test -f runs/demo-ia/last.pt && echo --resume)
	$(PY) -m iapix.cli plot-log runs/demo-ia --out out/demo_curves.png
	$(PY) -m iapix.cli sample --checkpoint runs/demo-ia/best.pt --from-test 8 --out out/demo_reconstructions.png
	$(PY) -m iapix.cli sample --checkpoint checkpoints/five-small-ia.pt --component all --n 8 \
		--out out/pretrained_five_ia_gaussians.png
	@echo "demo run: runs/demo-ia; pictures in out/ (out/pretrained_five_ia_gaussians.png: one row per Gaussian of the shipped 5-category IA model, then real sketches of each category)"

# ruff first (configuration: [tool.ruff] in pyproject.toml), then every test
test: venv
	$(VENV)/bin/ruff check iapix tests benchmarks browser_tests notebooks/*.py
	IAPIX_QUICK=1 MPLBACKEND=Agg $(PY) -m pytest tests notebooks --nbval --nbval-current-env -p no:cacheprovider

# The notebooks are jupytext pairs (notebooks/jupytext.toml): NN_name.py (percent format) beside NN_name.ipynb.
# Sync each pair (the newer file wins), then execute the notebooks in place with the quick settings of
# `make test`, so that the stored outputs are the ones nbval compares; NB=notebooks/03_*.ipynb for some only.
NB ?= $(sort $(wildcard notebooks/[0-9][0-9]_*.ipynb))
notebooks: venv
	$(VENV)/bin/jupytext --sync $(NB)
	IAPIX_QUICK=1 MPLBACKEND=Agg $(VENV)/bin/jupyter nbconvert --to notebook --execute --inplace \
		--ExecutePreprocessor.timeout=1800 --ExecutePreprocessor.record_timing=False $(NB)
	$(VENV)/bin/jupytext --sync $(NB)

# Notebooks 06 and 08 in JupyterLab in headless Chromium (Debian's: apt-get install chromium);
# skips with a message where /usr/bin/chromium is missing.
test-browser: $(VENV)/.browser
	IAPIX_QUICK=1 MPLBACKEND=Agg $(PY) -m pytest browser_tests -p no:cacheprovider -rs

# playwright, once per venv (again when pyproject.toml changes)
$(VENV)/.browser: $(VENV)/.installed
	$(PY) -m pip install -q -e ".[browser]"
	@touch $@

# Rebuild data/ from the raw QuickDraw files (maintainers only: see data/README.md; deterministic).
data: venv
	$(PY) -m iapix.cli build-embedded --out data

bench: venv
	$(PY) benchmarks/raster.py
	$(PY) benchmarks/decoder.py
	$(PY) benchmarks/sample.py

# Only what the build makes: the venv, the package's egg-info, ruff's cache, out/ (pictures) and the demo's run.
# Never runs/ as a whole: it holds the shipped runs' logs (tracked by git) and the user's own runs.
clean:
	rm -rf $(VENV) out runs/demo-ia *.egg-info .ruff_cache
