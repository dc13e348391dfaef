// Command echo is a Lambda function for the emulator's tests: it answers
// with its event, fails when the event asks it to, and prints one line.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
)

func main() {
	lambda.Start(func(ctx context.Context, ev json.RawMessage) (json.RawMessage, error) {
		var in struct {
			Fail string `json:"fail"`
		}
		_ = json.Unmarshal(ev, &in)
		fmt.Fprintf(os.Stdout, "{\"msg\":\"echo\",\"env\":%q}\n", os.Getenv("ECHO_ENV"))
		if in.Fail != "" {
			return nil, errors.New(in.Fail)
		}
		return ev, nil
	})
}
