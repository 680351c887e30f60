package logs

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/smithy-go/logging"

	"jobrun/retry"
)

// AWSOptions say how to reach CloudWatch Logs. Empty fields fall back to the
// SDK's default chain: environment, shared config and profiles, SSO, IMDS;
// the endpoint to AWS_ENDPOINT_URL_CLOUDWATCH_LOGS or AWS_ENDPOINT_URL.
type AWSOptions struct {
	Region   string
	Profile  string
	Endpoint string // the job's awslogs-endpoint, if it sets one
}

// CredentialsError means the SDK found no credentials.
type CredentialsError struct{ Err error }

func (e *CredentialsError) Error() string {
	return "no AWS credentials to read CloudWatch Logs: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE (or --profile), or run with an instance role; or read output from the engine with --logs docker"
}
func (e *CredentialsError) Unwrap() error { return e.Err }

// RegionError means no region was configured anywhere.
type RegionError struct{}

func (RegionError) Error() string {
	return "no AWS region for CloudWatch Logs: pass --region, set AWS_REGION, or set awslogs-region in the job's logging options"
}

// NewCloudWatchClient builds the SDK client and checks that it has a region
// and credentials, so a missing one fails at start with the fix.
func NewCloudWatchClient(ctx context.Context, o AWSOptions) (*cloudwatchlogs.Client, aws.Config, error) {
	var opts []func(*config.LoadOptions) error
	if o.Region != "" {
		opts = append(opts, config.WithRegion(o.Region))
	}
	if o.Profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(o.Profile))
	}
	// Throttling is normal at CloudWatch's low quotas: let the SDK retry
	// more than its default 3 before our own backoff takes over.
	opts = append(opts, config.WithRetryMaxAttempts(10))
	// The SDK's own warnings (an IMDS fallback, say) would break jobrun's
	// one-line errors; what matters is returned as an error.
	opts = append(opts, config.WithLogger(logging.Nop{}))
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, cfg, fmt.Errorf("load AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		return nil, cfg, RegionError{}
	}
	if _, err := cfg.Credentials.Retrieve(ctx); err != nil {
		return nil, cfg, &CredentialsError{Err: err}
	}
	client := cloudwatchlogs.NewFromConfig(cfg, func(c *cloudwatchlogs.Options) {
		if o.Endpoint != "" {
			c.BaseEndpoint = aws.String(o.Endpoint)
		}
	})
	return client, cfg, nil
}

// GroupError means the log group jobrun would read does not exist.
type GroupError struct{ Group, Region string }

func (e *GroupError) Error() string {
	return fmt.Sprintf("log group %s does not exist in region %s: check --log-group or the job's awslogs-group and awslogs-region (or set awslogs-create-group: \"true\")", e.Group, e.Region)
}

// CheckGroupBound bounds the check that the log group exists.
const CheckGroupBound = 30 * time.Second

// CheckGroup fails with a GroupError when the group does not exist, so a
// mistyped group is reported at start instead of as a stream that never
// appears. It gives up after CheckGroupBound; notify hears each failed try.
func CheckGroup(ctx context.Context, c cloudwatchlogs.DescribeLogGroupsAPIClient, group, region string, notify func(error, time.Duration)) error {
	ctx, cancel := context.WithTimeout(ctx, CheckGroupBound)
	defer cancel()
	var out *cloudwatchlogs.DescribeLogGroupsOutput
	err := retry.DoNotify(ctx, retry.Policy(200*time.Millisecond, 2*time.Second, CheckGroupBound), func() error {
		var err error
		out, err = c.DescribeLogGroups(ctx, &cloudwatchlogs.DescribeLogGroupsInput{LogGroupNamePrefix: aws.String(group)})
		return err
	}, notify)
	if err != nil {
		return fmt.Errorf("check log group %s (needs logs:DescribeLogGroups): %w", group, err)
	}
	for _, g := range out.LogGroups {
		if aws.ToString(g.LogGroupName) == group {
			return nil
		}
	}
	return &GroupError{Group: group, Region: region}
}
