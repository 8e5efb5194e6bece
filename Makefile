# Two commands do all set-up on a fresh machine:
#   make demo   create .venv (CPU PyTorch, the package in editable mode) and run the main job
#   make test   every test, the notebooks under nbval included (quick settings: IAPIX_QUICK=1)
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
TORCH  ?= torch==2.13.0
# CPU wheels (a plain PyPI `torch` on Linux is a multi-GB CUDA build); unreachable -> PyPI / local wheels
TORCH_INDEX ?= https://download.pytorch.org/whl/cpu

.PHONY: demo test test-browser venv data bench clean

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

# The main job on the embedded data: prepare -> train `small` briefly -> curves -> samples.
DEMO_EPOCHS ?= 3
demo: venv
	$(PY) -m iapix.cli prepare --data data --preview out/data_preview.png
	$(PY) -m iapix.cli train --config small --categories cat pig --objective ia --max-epochs $(DEMO_EPOCHS) \
		--data data --out runs/demo-ia --device auto
	$(PY) -m iapix.cli plot-log runs/demo-ia --out out/demo_curves.png
	$(PY) -m iapix.cli sample --checkpoint runs/demo-ia/best.pt --from-test 8 --out out/demo_reconstructions.png
	$(PY) -m iapix.cli sample --checkpoint checkpoints/catpig-small-rpcl.pt --component heaviest --n 16 \
		--out out/pretrained_rpcl_heaviest.png
	@echo "demo run: runs/demo-ia (resume: iapix train ... --out runs/demo-ia --resume); pictures in out/"

test: venv
	IAPIX_QUICK=1 MPLBACKEND=Agg $(PY) -m pytest tests notebooks --nbval --nbval-current-env -p no:cacheprovider

# Notebooks 06 and 08 in JupyterLab in headless Chromium (Debian's: apt-get install chromium);
# skips with a message where /usr/bin/chromium is missing.
test-browser: venv
	$(PY) -m pip install -q -e ".[browser]"
	IAPIX_QUICK=1 MPLBACKEND=Agg $(PY) -m pytest browser_tests -p no:cacheprovider -rs

# Rebuild data/ from the raw QuickDraw files in ../shared (deterministic).
data: venv
	$(PY) -m iapix.cli build-embedded --out data

bench: venv
	$(PY) benchmarks/raster.py
	$(PY) benchmarks/decoder.py
	$(PY) benchmarks/sample.py

clean:
	rm -rf $(VENV) out runs *.egg-info
