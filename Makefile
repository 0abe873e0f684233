# netready — the two commands of the README: `make demo` and `make test`.
# Both install what they need (Debian packages, a venv) and are quick the second time.

# What netready and its lab need to run (demo included). chromium-headless-shell runs the IPv6-only page
# check (VN-IPV6-ONLY, probes/browser.py); chromium is its fallback when the headless shell is absent.
APT_PACKAGES := bind9 bind9-utils bind9-dnsutils knot knot-dnsutils nginx openssl \
                iproute2 iputils-ping curl util-linux python3-venv python3-dev gcc graphviz \
                libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-liberation2 fonts-dejavu-core \
                systemd-container debootstrap zstd openssh-client \
                chromium-headless-shell chromium
# What only the tests need on top: DOCX -> PDF conversion and PDF text extraction for the plan tests;
# Pebble (an ACME CA) and certbot for the ACME tests of the tls role (#15); testssl.sh for
# bench/compare_tls*.py (the peer tool the TLS checks are compared with);
# PostgreSQL, Redis and Prometheus servers the monitor tests start themselves (#17).
APT_TEST_PACKAGES := libreoffice-writer-nogui poppler-utils pebble certbot python3-certbot-nginx testssl.sh \
                     postgresql redis-server prometheus
PYTHON ?= python3
VENV := .venv
STAMP_APT := $(VENV)/.stamp-apt
STAMP_APT_TEST := $(VENV)/.stamp-apt-test
STAMP_PIP := $(VENV)/.stamp-pip
# Every Python package, pinned with its hashes (pip --require-hashes). After changing dependencies in
# pyproject.toml: `make lock` (needs the package index), then commit requirements.lock.
LOCK := requirements.lock

.PHONY: demo test lint lint-playbooks deps venv clean lab-down lock collection

demo: venv
	$(VENV)/bin/netready demo

test: venv $(STAMP_APT_TEST)
	$(VENV)/bin/ruff check .
	$(MAKE) --no-print-directory lint-playbooks
	$(VENV)/bin/pytest -q $(PYTEST_ARGS)

lint: venv lint-playbooks
	$(VENV)/bin/ruff check .

# The playbooks and roles, at ansible-lint's strictest profile (offline: the collections come with ansible).
lint-playbooks: venv
	cd playbooks && ../$(VENV)/bin/ansible-lint --offline --profile production --nocolor -q .

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

$(STAMP_PIP): pyproject.toml $(LOCK) $(STAMP_APT)
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --require-hashes -r $(LOCK)
	$(VENV)/bin/pip install -q --no-deps --no-build-isolation -e .
	@$(VENV)/bin/pip check >/dev/null || { $(VENV)/bin/pip check; \
	  echo "requirements.lock does not match pyproject.toml: run make lock"; exit 1; }
	@touch $@

# Regenerate the lock from pyproject.toml (runtime and test extras), every file's SHA-256 included.
lock:
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q pip-tools
	CUSTOM_COMPILE_COMMAND="make lock" $(VENV)/bin/pip-compile --quiet --generate-hashes --allow-unsafe --all-build-deps --extra test --strip-extras \
	  --no-emit-index-url --no-emit-find-links -o $(LOCK) pyproject.toml

# The playbooks as the Ansible collection netready.readiness: dist/netready-readiness-VERSION.tar.gz, versioned from
# git metadata now (setuptools-scm), as a wheel built now would be.
collection: venv
	$(VENV)/bin/python -m netready.collection --out dist --version "$$($(VENV)/bin/python -m setuptools_scm)"

lab-down: venv
	$(VENV)/bin/netready lab down

clean: lab-down
	rm -rf $(VENV) *.egg-info
