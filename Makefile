# Two entry points for a fresh machine: `make demo` (main job) and `make test` (test suite).
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]' --config-settings editable_mode=compat
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/logo run --config demo --out runs/demo

# The browser test (tests/test_app_serve_browser.py) drives headless Chromium: install it when it is missing
# and this can (root, apt-get); never fail here (the test then skips, saying how to enable it).
browser:
	-@if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "make test: installing headless Chromium for the browser test (apt-get install chromium chromium-driver)"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver) \
	    >/tmp/logo-synth-chromium-install.log 2>&1 \
	    || echo "make test: could not install Chromium (see /tmp/logo-synth-chromium-install.log); the browser test will skip"; \
	else echo "make test: no headless Chromium and no root/apt-get to install it; the browser test will skip"; fi

test: $(STAMP) browser
	$(BIN)/python -m pytest tests; rc=$$?; if [ $$rc -eq 5 ]; then echo "no tests collected"; exit 0; fi; exit $$rc

bench: $(STAMP)
	$(BIN)/pip install -q -e '.[bench]' --config-settings editable_mode=compat
	for f in bench/*.py; do $(BIN)/python $$f || exit 1; done

.PHONY: install demo test bench browser
