# netready — the two commands of the README: `make demo` and `make test`.
# Both install what they need (Debian packages, a venv) and are quick the second time.

# What netready and its lab need to run (demo included). chromium-headless-shell runs the IPv6-only page
# check (VN-IPV6-ONLY, probes/browser.py); chromium is its fallback when the headless shell is absent.
APT_PACKAGES := bind9 bind9-utils bind9-dnsutils knot knot-dnsutils nginx openssl \
                iproute2 iputils-ping curl util-linux python3-venv python3-dev gcc graphviz \
                libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-liberation2 fonts-dejavu-core \
                systemd-container debootstrap zstd openssh-client \
                chromium-headless-shell chromium
# What only the tests need on top: DOCX -> PDF conversion and PDF text extraction for the plan tests.
APT_TEST_PACKAGES := libreoffice-writer-nogui poppler-utils
PYTHON ?= python3
VENV := .venv
STAMP_APT := $(VENV)/.stamp-apt
STAMP_APT_TEST := $(VENV)/.stamp-apt-test
STAMP_PIP := $(VENV)/.stamp-pip

.PHONY: demo test lint deps venv clean lab-down

demo: venv
	$(VENV)/bin/netready demo

test: venv $(STAMP_APT_TEST)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/pytest -q $(PYTEST_ARGS)

lint: venv
	$(VENV)/bin/ruff check .

deps: $(STAMP_APT)

# apt-get update only when a package is missing: the second run costs one dpkg query.
define apt_install
	@missing=$$(for p in $(1); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:" $$missing; \
	  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $$missing; \
	fi
	@mkdir -p $(VENV) && touch $@
endef

$(STAMP_APT): Makefile
	$(call apt_install,$(APT_PACKAGES))

$(STAMP_APT_TEST): Makefile
	$(call apt_install,$(APT_TEST_PACKAGES))

venv: deps $(STAMP_PIP)

$(STAMP_PIP): pyproject.toml $(STAMP_APT)
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[test]'
	@touch $@

lab-down: venv
	$(VENV)/bin/netready lab down

clean: lab-down
	rm -rf $(VENV) *.egg-info
