# netready — the two commands of the README: `make demo` and `make test`.
# Both install what they need (Debian packages, a venv) and are quick the second time.

APT_PACKAGES := bind9 bind9-utils bind9-dnsutils knot knot-dnsutils nginx openssl \
                iproute2 iputils-ping curl util-linux python3-venv python3-dev gcc graphviz \
                libreoffice-writer-nogui poppler-utils libpango-1.0-0 libpangoft2-1.0-0 \
                libharfbuzz-subset0 fonts-liberation2 fonts-dejavu-core
PYTHON ?= python3
VENV := .venv
STAMP_APT := $(VENV)/.stamp-apt
STAMP_PIP := $(VENV)/.stamp-pip

.PHONY: demo test lint deps venv clean lab-down

demo: venv
	$(VENV)/bin/netready demo

test: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/pytest -q $(PYTEST_ARGS)

lint: venv
	$(VENV)/bin/ruff check .

deps: $(STAMP_APT)

# apt-get update only when a package is missing: the second run costs one dpkg query.
$(STAMP_APT): Makefile
	@missing=$$(for p in $(APT_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:" $$missing; \
	  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $$missing; \
	fi
	@mkdir -p $(VENV) && touch $@

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
