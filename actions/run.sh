#!/usr/bin/env bash
# Runs one gitops-runner command for the Action, publishes the result, and sets the outputs.
# Inputs come as GR_* environment variables (see action.yml). Exit codes of the runner:
#   validate: 0 valid, 1 invalid, 2 could not run
#   plan:     0 no changes, 1 changes, 2 error      apply: 0 applied, 1 failed, 2 error
#   drift:    0 no drift, 1 drift, 2 error          3 (any): the command is not built yet
set -uo pipefail

out="${RUNNER_TEMP:-/tmp}/gitops-runner-${GITHUB_RUN_ID:-local}-${GITHUB_JOB:-job}"
mkdir -p "$out"
report="$out/report.json"
validation="$out/validation.json"
rm -f "$report" "$validation"

case "$GR_COMMAND" in
  validate | plan | apply | drift) ;;
  *) echo "::error title=gitops-runner::command must be validate, plan, apply or drift, not '$GR_COMMAND'"; exit 2 ;;
esac

# Extra arguments, split like a shell would split them (no globbing).
read -r -a extra <<< "${GR_ARGS:-}"

cluster=()
if [ -n "${GR_KUBECONFIG:-}" ] && [ "$GR_COMMAND" != validate ]; then
  if [ -f "$GR_KUBECONFIG" ]; then
    cluster=(--kubeconfig "$GR_KUBECONFIG")
  else
    (umask 077 && printf '%s\n' "$GR_KUBECONFIG" > "$out/kubeconfig")
    cluster=(--kubeconfig "$out/kubeconfig")
  fi
fi

result=""
code=0

# 1. Validation: the command itself, or a gate before plan/apply.
if [ "$GR_COMMAND" = validate ] || { [ "${GR_VALIDATE:-true}" = true ] && [ "$GR_COMMAND" != drift ]; }; then
  version_args=()
  if [ -n "${GR_KUBERNETES_VERSION:-}" ]; then version_args=(--kubernetes-version "$GR_KUBERNETES_VERSION"); fi
  echo "::group::gitops-runner validate --path $GR_PATH"
  gitops-runner validate --path "$GR_PATH" "${version_args[@]}" -o json > "$validation"
  vcode=$?
  echo "::endgroup::"
  case "$vcode" in
    0) result=valid ;;
    1) result=invalid; code=1 ;;
    3)
      rm -f "$validation"
      if [ "$GR_COMMAND" = validate ]; then
        result=error; code=3
        echo "::error title=gitops-runner::this gitops-runner version cannot validate yet (exit 3)"
      else
        echo "::warning title=gitops-runner::this gitops-runner version cannot validate yet: validation skipped"
      fi
      ;;
    *) rm -f "$validation"; result=error; code=$vcode
       echo "::error title=gitops-runner::validate could not run (exit $vcode): see the log above" ;;
  esac
fi

# 2. The command (unless validation stopped it).
if [ "$GR_COMMAND" != validate ] && { [ -z "$result" ] || [ "$result" = valid ]; }; then
  args=(--path "$GR_PATH" "${cluster[@]}" --report "$report")
  if [ "$GR_COMMAND" = plan ] && [ -n "${GR_CHANGED_SINCE:-}" ]; then
    args+=(--changed-since "$GR_CHANGED_SINCE")
  fi
  echo "::group::gitops-runner $GR_COMMAND --path $GR_PATH"
  gitops-runner "$GR_COMMAND" "${args[@]}" "${extra[@]}"
  code=$?
  echo "::endgroup::"
  case "$GR_COMMAND:$code" in
    plan:0) result=no-changes ;;
    plan:1) result=changes ;;
    apply:0) result=applied ;;
    apply:1) result=failed ;;
    drift:0) result=no-drift ;;
    drift:1) result=drift ;;
    *:3) result=error; echo "::error title=gitops-runner::gitops-runner $GR_COMMAND is not available in this version (exit 3)" ;;
    *) result=error ;;
  esac
fi

# 3. Publish: status, sticky comment, step summary, annotations.
publish=(gitops-runner publish --forge github)
have=false
if [ -s "$report" ]; then publish+=(--report "$report"); have=true; fi
if [ -s "$validation" ]; then publish+=(--validation "$validation"); have=true; fi
if [ "${GR_COMMENT:-true}" != true ]; then publish+=(--no-comment); fi
if [ "${GR_STATUS:-true}" != true ]; then publish+=(--no-status); fi
# One context per command and path, whether validation stopped the run or not, so the same
# sticky comment is edited either way.
publish+=(--context "${GR_CONTEXT:-gitops-runner/$GR_COMMAND ($GR_PATH)}")
publish_code=0
if [ "$have" = true ]; then
  "${publish[@]}"
  publish_code=$?
  if [ "$publish_code" != 0 ]; then
    echo "::error title=gitops-runner::publishing the result failed (exit $publish_code): see the log above"
  fi
fi

# 4. Outputs.
{
  echo "result=$result"
  echo "exit-code=$code"
  echo "report=$([ -s "$report" ] && echo "$report")"
  echo "validation-report=$([ -s "$validation" ] && echo "$validation")"
  python - "$report" <<'PY'
import json, sys
try:
    totals = json.load(open(sys.argv[1])).get("totals", {})
except (OSError, ValueError):
    totals = {}
print("counts=" + json.dumps(totals, separators=(",", ":")))
print(f"created={totals.get('created', 0) + totals.get('recreated', 0)}")
print(f"configured={totals.get('configured', 0)}")
print(f"deleted={totals.get('pruned', 0)}")
print(f"unchanged={totals.get('unchanged', 0)}")
PY
} >> "$GITHUB_OUTPUT"
echo "gitops-runner $GR_COMMAND: $result (exit $code)"

# 5. Fail the step when the run failed (after publishing, so the pull request hears of it).
case "$result" in
  valid | no-changes | changes | applied | no-drift) ;;
  drift) [ "${GR_FAIL_ON_DRIFT:-true}" = true ] && exit 1 ;;
  *) exit 1 ;;
esac
[ "$publish_code" = 0 ] || exit "$publish_code"
exit 0
