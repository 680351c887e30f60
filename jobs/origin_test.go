package jobs

import (
	"reflect"
	"testing"
)

func TestOriginFrom(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want Origin
	}{
		{"GitHub Actions", map[string]string{"GITHUB_ACTIONS": "true", "GITHUB_ACTOR": "octo", "GITHUB_SERVER_URL": "https://github.com", "GITHUB_REPOSITORY": "team/todobackend", "GITHUB_RUN_ID": "42", "USER": "runner"},
			Origin{Who: "octo (GitHub Actions)", RunURL: "https://github.com/team/todobackend/actions/runs/42"}},
		{"GitHub Actions, re-run by another", map[string]string{"GITHUB_ACTIONS": "true", "GITHUB_ACTOR": "octo", "GITHUB_TRIGGERING_ACTOR": "oncall"},
			Origin{Who: "oncall (GitHub Actions)"}},
		{"GitLab CI", map[string]string{"GITLAB_CI": "true", "CI": "true", "GITLAB_USER_LOGIN": "ana", "CI_JOB_URL": "https://gitlab.example/team/app/-/jobs/7"},
			Origin{Who: "ana (GitLab CI)", RunURL: "https://gitlab.example/team/app/-/jobs/7"}},
		{"generic CI", map[string]string{"CI": "true", "CI_USER": "deploybot", "CI_JOB_URL": "https://ci.example/jobs/9"},
			Origin{Who: "deploybot (CI)", RunURL: "https://ci.example/jobs/9"}},
		{"a person", map[string]string{"USER": "ana"}, Origin{Who: "ana@ops1"}},
		{"no USER: the account", map[string]string{}, Origin{Who: "root@ops1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := OriginFrom(tt.env, "root", "ops1"); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("%+v, want %+v", got, tt.want)
			}
		})
	}
}
