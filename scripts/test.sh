#!/usr/bin/env bash
# `make test`: ruff, the whole pytest suite on SQLite (browser tests included), then the suite again on
# PostgreSQL without the browser tests. Prints one summary line per pass; exits non-zero if any pass failed.
#
# TRIALDESK_TEST_DATABASE_URL  PostgreSQL for the second pass (default postgres://postgres@127.0.0.1:5432/trialdesk;
#                              pytest-django creates and drops test_<dbname> on that server)
# CI=true                      an unreachable PostgreSQL, or a missing Chromium, is a failure instead of a skip
# PYTEST_ARGS                  extra pytest arguments for both passes, e.g. PYTEST_ARGS="-x -k audit"
set -uo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
PG_URL=${TRIALDESK_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/trialdesk}
read -r -a EXTRA <<< "${PYTEST_ARGS:-}"
case "${CI:-}" in 1|true|TRUE|True|yes) CI_MODE=1 ;; *) CI_MODE=0 ;; esac

# Tests get their own TRIALDESK_HOME, so they never write into the developer's var/.
TEST_HOME=$(mktemp -d "${TMPDIR:-/tmp}/trialdesk-test-home.XXXXXX")
trap 'rm -rf "$TEST_HOME"' EXIT
export TRIALDESK_HOME=$TEST_HOME
# An empty STATIC_ROOT, as after collectstatic; otherwise WhiteNoise warns on every test client.
mkdir -p "$TEST_HOME/static"

# Screenshots of failed browser tests from this run only.
rm -rf test-artifacts

SUMMARY=()
FAILED=0

pass_result() {  # name, exit status, seconds
    local verdict=PASSED
    if [ "$2" -ne 0 ]; then verdict="FAILED (exit $2)"; FAILED=1; fi
    SUMMARY+=("$(printf '%-26s %-16s %4d s' "$1" "$verdict" "$3")")
    echo "==> $1: $verdict in $3 s"
}

echo "==> ruff"
start=$SECONDS
lint_targets=()
for target in src tests conftest.py bench scripts; do [ -e "$target" ] && lint_targets+=("$target"); done
"$VENV/bin/ruff" check "${lint_targets[@]}"
pass_result "ruff" $? $((SECONDS - start))

echo "==> pytest on SQLite (all tests, browser included)"
start=$SECONDS
env -u TRIALDESK_DATABASE_URL "$VENV/bin/pytest" --durations=10 "${EXTRA[@]}"
pass_result "pytest SQLite" $? $((SECONDS - start))

echo "==> pytest on PostgreSQL (${PG_URL}; browser tests excluded)"
start=$SECONDS
if reason=$("$VENV/bin/python" scripts/pg_reachable.py "$PG_URL"); then
    TRIALDESK_DATABASE_URL=$PG_URL "$VENV/bin/pytest" -m "not browser" --durations=10 "${EXTRA[@]}"
    pass_result "pytest PostgreSQL" $? $((SECONDS - start))
else
    if [ "$CI_MODE" = 1 ]; then
        echo "PostgreSQL not reachable at ${PG_URL} (${reason}): FAILING, CI=true requires the PostgreSQL pass"
        pass_result "pytest PostgreSQL" 1 $((SECONDS - start))
    else
        echo "PostgreSQL not reachable at ${PG_URL} (${reason}): SKIPPING the PostgreSQL pass"
        SUMMARY+=("$(printf '%-26s %-16s' "pytest PostgreSQL" "SKIPPED (not reachable)")")
    fi
fi

echo
echo "==> Summary"
printf '    %s\n' "${SUMMARY[@]}"
exit $FAILED
