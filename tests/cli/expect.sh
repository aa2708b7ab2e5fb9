# Shared by the CLI test scripts (sourced): each check prints "ok: ..." or "FAIL: ..." and
# counts failures in $failures.
failures=0

# expect CODE "substring" command...: the command exits CODE and its output holds substring.
expect() {
  local code=$1 needle=$2
  shift 2
  local out got
  out=$("$@" 2>&1)
  got=$?
  if [ "$got" -ne "$code" ]; then
    echo "FAIL: '$*' exited $got, expected $code"; echo "$out" | tail -30; failures=$((failures + 1))
  elif [ -n "$needle" ] && ! grep -qF -- "$needle" <<<"$out"; then
    echo "FAIL: '$*' output lacks '$needle'"; echo "$out" | tail -30; failures=$((failures + 1))
  else
    echo "ok: $*"
  fi
}

# check "what" command...: the command succeeds.
check() {
  local what=$1
  shift
  if "$@"; then echo "ok: $what"; else echo "FAIL: $what"; failures=$((failures + 1)); fi
}
