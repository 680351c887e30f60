package jobs

import "strings"

// Origin is who started a run or a deploy, from where: what a team asks
// first about a release it did not expect.
type Origin struct {
	Who    string `json:"who"`                  // the CI's actor, else user@host
	RunURL string `json:"ci_run_url,omitempty"` // the CI run that did it
	Commit string `json:"commit,omitempty"`     // the git commit of the working tree
	Jobrun string `json:"jobrun,omitempty"`     // jobrun's own version
}

// OriginFrom reads who from the CI's environment (GitHub Actions, GitLab
// CI, or the generic CI_* variables), else the user ($USER, else the
// account's name) and host.
func OriginFrom(env map[string]string, account, host string) Origin {
	switch {
	case env["GITHUB_ACTIONS"] == "true":
		o := Origin{Who: firstOf(env["GITHUB_TRIGGERING_ACTOR"], env["GITHUB_ACTOR"]) + " (GitHub Actions)"}
		if env["GITHUB_RUN_ID"] != "" {
			o.RunURL = strings.TrimSuffix(firstOf(env["GITHUB_SERVER_URL"], "https://github.com"), "/") + "/" + env["GITHUB_REPOSITORY"] + "/actions/runs/" + env["GITHUB_RUN_ID"]
		}
		return o
	case env["GITLAB_CI"] == "true":
		return Origin{Who: firstOf(env["GITLAB_USER_LOGIN"], env["GITLAB_USER_NAME"], "unknown") + " (GitLab CI)", RunURL: firstOf(env["CI_JOB_URL"], env["CI_PIPELINE_URL"])}
	case env["CI_JOB_URL"] != "" || env["CI_USER"] != "":
		return Origin{Who: firstOf(env["CI_USER"], "unknown") + " (CI)", RunURL: env["CI_JOB_URL"]}
	}
	return Origin{Who: firstOf(env["USER"], env["LOGNAME"], account, "unknown") + "@" + firstOf(host, "unknown")}
}
