# Terraform and provider versions, and where the state lives.
#
# The state bucket is created by `scripts/deploy.sh --phase 1` and passed at init time:
#   terraform init -backend-config="bucket=<project>-aetherveil-tfstate"

terraform {
  required_version = ">= 1.5"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = ">= 6.0, < 8.0"
    }
  }

  backend "gcs" {
    prefix = "aetherveil"
  }
}

provider "google" {
  project = var.project
  region  = var.region
}

data "google_project" "this" {
  project_id = var.project
}
