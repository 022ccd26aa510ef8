#!/usr/bin/env bash
# Deploys Aetherveil's Google Cloud shape (docs/cloud.md, "Deploying"), in three phases:
#
#   --phase 1   enable the APIs; create the Artifact Registry repository and the Terraform state bucket
#   --phase 2   build the container image and push it (docker when a daemon answers, else Cloud Build);
#               records the pushed image's digest for phase 3
#   --phase 3   terraform init + apply of terraform/ with that image digest (secrets first: it stops and
#               says which secret needs a value before the services are created)
#
# Usage: scripts/deploy.sh --phase 1|2|3 [--project ID] [--region REGION] [--image IMAGE@sha256:...]
#                          [--builder docker|cloudbuild] [--auto-approve] [--dry-run] [--help]
#
# PROJECT and REGION come from the flags, else the environment (PROJECT or GOOGLE_CLOUD_PROJECT, REGION),
# else gcloud's configuration (core/project, run/region). --dry-run prints every command instead of running
# it (prerequisites still checked, missing ones reported as warnings).
# Other settings: AETHERVEIL_REPOSITORY (Artifact Registry repository, default "aetherveil"),
# AETHERVEIL_STATE_BUCKET (default "<project>-aetherveil-tfstate"), TF_VAR_* for any Terraform variable.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TF_DIR="$ROOT/terraform"
REPOSITORY="${AETHERVEIL_REPOSITORY:-aetherveil}"
IMAGE_NAME=aetherveil
APIS=(
  artifactregistry.googleapis.com
  cloudbuild.googleapis.com
  cloudresourcemanager.googleapis.com
  cloudscheduler.googleapis.com
  firestore.googleapis.com
  iam.googleapis.com
  iamcredentials.googleapis.com
  logging.googleapis.com
  monitoring.googleapis.com
  pubsub.googleapis.com
  run.googleapis.com
  secretmanager.googleapis.com
  storage.googleapis.com
  workflowexecutions.googleapis.com
  workflows.googleapis.com
)

PHASE=""
PROJECT="${PROJECT:-${GOOGLE_CLOUD_PROJECT:-}}"
REGION="${REGION:-}"
IMAGE="${IMAGE:-}"
BUILDER=""
AUTO_APPROVE=0
DRY_RUN=0
PROBLEMS=()
BUILD_CONFIG=""

usage() {
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//'
}

die() {
  echo "deploy.sh: $*" >&2
  exit 1
}

note() {
  echo "deploy.sh: $*" >&2
}

# Runs a command, or prints it under --dry-run.
run() {
  if [[ $DRY_RUN == 1 ]]; then
    printf '+'
    printf ' %q' "$@"
    printf '\n'
  else
    "$@"
  fi
}

# Records a missing prerequisite; `require_all` reports them together.
missing() {
  PROBLEMS+=("$1")
}

require_all() {
  ((${#PROBLEMS[@]} == 0)) && return 0
  local p
  for p in "${PROBLEMS[@]}"; do
    echo "  - $p" >&2
  done
  if [[ $DRY_RUN == 1 ]]; then
    note "missing prerequisites above (dry run: continuing)"
    PROBLEMS=()
    return 0
  fi
  die "cannot run phase $PHASE; missing prerequisites above"
}

parse_args() {
  while (($# > 0)); do
    case "$1" in
      --phase) PHASE="${2:-}"; shift 2 ;;
      --phase=*) PHASE="${1#*=}"; shift ;;
      --project) PROJECT="${2:-}"; shift 2 ;;
      --project=*) PROJECT="${1#*=}"; shift ;;
      --region) REGION="${2:-}"; shift 2 ;;
      --region=*) REGION="${1#*=}"; shift ;;
      --image) IMAGE="${2:-}"; shift 2 ;;
      --image=*) IMAGE="${1#*=}"; shift ;;
      --builder) BUILDER="${2:-}"; shift 2 ;;
      --builder=*) BUILDER="${1#*=}"; shift ;;
      --auto-approve) AUTO_APPROVE=1; shift ;;
      --dry-run) DRY_RUN=1; shift ;;
      -h | --help) usage; exit 0 ;;
      *) die "unknown argument: $1 (see --help)" ;;
    esac
  done
  case "$PHASE" in
    1 | 2 | 3) ;;
    "") die "--phase 1|2|3 is required (see --help)" ;;
    *) die "--phase must be 1, 2 or 3, not '$PHASE'" ;;
  esac
  case "$BUILDER" in
    "" | docker | cloudbuild) ;;
    *) die "--builder must be docker or cloudbuild, not '$BUILDER'" ;;
  esac
}

have() {
  command -v "$1" >/dev/null 2>&1
}

# gcloud, an authenticated account, PROJECT and REGION: every phase needs them.
check_common() {
  if ! have gcloud; then
    missing "gcloud (the Google Cloud CLI) is not on PATH: install it (https://cloud.google.com/sdk/docs/install)"
  else
    if [[ -z $PROJECT ]]; then
      PROJECT="$(gcloud config get-value core/project 2>/dev/null || true)"
    fi
    if [[ -z $REGION ]]; then
      REGION="$(gcloud config get-value run/region 2>/dev/null || true)"
    fi
    local account
    account="$(gcloud auth list --filter=status:ACTIVE --format='value(account)' 2>/dev/null || true)"
    if [[ -z $account ]]; then
      missing "no authenticated gcloud account: run 'gcloud auth login'"
    fi
  fi
  [[ -n $PROJECT ]] || missing "PROJECT is not set: pass --project ID, export PROJECT=ID, or 'gcloud config set project ID'"
  [[ -n $REGION ]] || missing "REGION is not set: pass --region REGION, export REGION=us-central1, or 'gcloud config set run/region REGION'"
  if [[ $DRY_RUN == 1 ]]; then
    PROJECT="${PROJECT:-PROJECT}"
    REGION="${REGION:-REGION}"
  fi
}

state_bucket() {
  echo "${AETHERVEIL_STATE_BUCKET:-$PROJECT-aetherveil-tfstate}"
}

registry_host() {
  echo "$REGION-docker.pkg.dev"
}

image_repo() {
  echo "$(registry_host)/$PROJECT/$REPOSITORY/$IMAGE_NAME"
}

# Where phase 2 records the pushed image for phase 3.
image_record() {
  echo "${XDG_CACHE_HOME:-$HOME/.cache}/aetherveil/image-$PROJECT-$REGION"
}

phase1() {
  check_common
  require_all
  note "phase 1: APIs, Artifact Registry repository '$REPOSITORY' in $REGION, state bucket gs://$(state_bucket)"
  run gcloud services enable "${APIS[@]}" --project "$PROJECT"

  if [[ $DRY_RUN == 0 ]] && gcloud artifacts repositories describe "$REPOSITORY" --location "$REGION" \
    --project "$PROJECT" >/dev/null 2>&1; then
    note "Artifact Registry repository $REPOSITORY exists"
  else
    run gcloud artifacts repositories create "$REPOSITORY" --repository-format=docker --location "$REGION" \
      --project "$PROJECT" --description "Aetherveil images"
  fi

  local bucket
  bucket="$(state_bucket)"
  if [[ $DRY_RUN == 0 ]] && gcloud storage buckets describe "gs://$bucket" --project "$PROJECT" >/dev/null 2>&1; then
    note "state bucket gs://$bucket exists"
  else
    run gcloud storage buckets create "gs://$bucket" --project "$PROJECT" --location "$REGION" \
      --uniform-bucket-level-access --public-access-prevention
    run gcloud storage buckets update "gs://$bucket" --versioning
  fi
  note "phase 1 done; next: scripts/deploy.sh --phase 2"
}

# docker when its daemon answers, else Cloud Build; --builder forces one.
pick_builder() {
  if [[ -n $BUILDER ]]; then
    if [[ $BUILDER == docker ]] && ! { have docker && docker info >/dev/null 2>&1; }; then
      missing "--builder docker, but no Docker daemon answers ('docker info' fails)"
    fi
    return 0
  fi
  if have docker && docker info >/dev/null 2>&1; then
    BUILDER=docker
  elif have gcloud; then
    BUILDER=cloudbuild
    note "no Docker daemon answers: building with Cloud Build"
  else
    missing "neither a Docker daemon ('docker info') nor gcloud for Cloud Build"
  fi
}

phase2() {
  check_common
  pick_builder
  require_all
  local tag repo
  tag="$(git -C "$ROOT" rev-parse --short=12 HEAD 2>/dev/null || date -u +%Y%m%d%H%M%S)"
  if [[ -n "$(git -C "$ROOT" status --porcelain 2>/dev/null || true)" ]]; then
    tag="$tag-dirty-$(date -u +%Y%m%d%H%M%S)"
  fi
  repo="$(image_repo)"
  note "phase 2: building $repo:$tag with ${BUILDER:-cloudbuild}"

  if [[ $BUILDER == docker ]]; then
    run gcloud auth configure-docker "$(registry_host)" --quiet
    run env DOCKER_BUILDKIT=1 docker build --tag "$repo:$tag" "$ROOT"
    run docker push "$repo:$tag"
  else
    # The Dockerfile's cache mounts need BuildKit, which Cloud Build's docker step enables by env.
    BUILD_CONFIG="$(mktemp)"
    trap 'rm -f "$BUILD_CONFIG"' EXIT
    local config="$BUILD_CONFIG"
    cat >"$config" <<EOF
steps:
  - name: gcr.io/cloud-builders/docker
    env: ["DOCKER_BUILDKIT=1"]
    args: ["build", "--tag", "$repo:$tag", "."]
images: ["$repo:$tag"]
options:
  machineType: E2_HIGHCPU_8
timeout: 3600s
EOF
    if [[ $DRY_RUN == 1 ]]; then
      echo "# Cloud Build config ($config):"
      sed 's/^/#   /' "$config"
    fi
    run gcloud builds submit "$ROOT" --project "$PROJECT" --region "$REGION" --config "$config"
  fi

  local digest=""
  if [[ $DRY_RUN == 1 ]]; then
    run gcloud artifacts docker images describe "$repo:$tag" --format 'value(image_summary.digest)'
    digest="sha256:DIGEST"
  else
    digest="$(gcloud artifacts docker images describe "$repo:$tag" --format 'value(image_summary.digest)')"
    [[ $digest == sha256:* ]] || die "could not read the digest of $repo:$tag (got '$digest')"
  fi
  local record
  record="$(image_record)"
  if [[ $DRY_RUN == 0 ]]; then
    mkdir -p "$(dirname "$record")"
    echo "$repo@$digest" >"$record"
    note "pushed $repo@$digest (recorded in $record)"
  else
    note "would record $repo@$digest in $record"
  fi
  note "phase 2 done; next: scripts/deploy.sh --phase 3"
}

# The secrets Terraform declared (label app=aetherveil, terraform/secrets.tf) that have no enabled
# version yet.
secrets_without_value() {
  local id
  for id in $(gcloud secrets list --project "$PROJECT" --filter='labels.app=aetherveil' --format='value(name.basename())'); do
    if [[ -z "$(gcloud secrets versions list "$id" --project "$PROJECT" --filter='state:ENABLED' \
      --limit=1 --format='value(name)' 2>/dev/null || true)" ]]; then
      echo "$id"
    fi
  done
}

phase3() {
  check_common
  have terraform || missing "terraform is not on PATH: install Terraform >= 1.5 (https://developer.hashicorp.com/terraform/install)"
  if have gcloud && ! gcloud auth application-default print-access-token >/dev/null 2>&1; then
    missing "no Application Default Credentials for Terraform: run 'gcloud auth application-default login'"
  fi
  if [[ -z $IMAGE && -f "$(image_record)" ]]; then
    IMAGE="$(cat "$(image_record)")"
  fi
  if [[ -z $IMAGE ]]; then
    if [[ $DRY_RUN == 1 ]]; then
      IMAGE="$(image_repo)@sha256:DIGEST"
    else
      missing "no image: run phase 2 first, or pass --image REGION-docker.pkg.dev/PROJECT/REPO/aetherveil@sha256:..."
    fi
  elif [[ $IMAGE != *@sha256:* ]]; then
    missing "--image must name a digest (…@sha256:…), not a tag: '$IMAGE'"
  fi
  require_all

  export TF_VAR_project="$PROJECT" TF_VAR_region="$REGION" TF_VAR_image="$IMAGE"
  local approve=()
  [[ $AUTO_APPROVE == 1 ]] && approve=(-auto-approve)
  note "phase 3: terraform apply of $TF_DIR with image $IMAGE"
  run terraform -chdir="$TF_DIR" init -input=false -backend-config="bucket=$(state_bucket)"

  # Secrets first: a service cannot start with a secret that has no value.
  run terraform -chdir="$TF_DIR" apply -input=false "${approve[@]}" -target=google_secret_manager_secret.secret
  if [[ $DRY_RUN == 0 ]]; then
    local empty
    empty="$(secrets_without_value)"
    if [[ -n $empty ]]; then
      echo "These secrets have no value yet; add one to each, then run phase 3 again:" >&2
      local id
      for id in $empty; do
        echo "  printf '%s' \"\$VALUE\" | gcloud secrets versions add $id --project $PROJECT --data-file=-" >&2
      done
      exit 1
    fi
  fi

  run terraform -chdir="$TF_DIR" apply -input=false "${approve[@]}"
  if [[ $DRY_RUN == 0 ]]; then
    terraform -chdir="$TF_DIR" output webhook_url
  fi
  note "phase 3 done; set the GitHub webhook's payload URL to the webhook_url above (docs/cloud.md)"
}

main() {
  parse_args "$@"
  case "$PHASE" in
    1) phase1 ;;
    2) phase2 ;;
    3) phase3 ;;
  esac
}

main "$@"
