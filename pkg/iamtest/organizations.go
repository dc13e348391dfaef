package iamtest

import (
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// Organizations speaks the AWS JSON 1.1 protocol: POST /, the operation in
// X-Amz-Target ("AWSOrganizationsV20161128.ListAccounts"), a JSON body, and
// errors as {"__type": code, "Message": …} with HTTP 400 (Organizations API
// reference, Common Errors; the SDK's awsJson1_1 deserializer reads __type).
const orgTargetPrefix = "AWSOrganizationsV20161128."

// maxListAccounts is ListAccounts' largest MaxResults (Organizations API
// reference, ListAccounts: "Valid Range: Minimum value of 1. Maximum value
// of 20.").
const maxListAccounts = 20

// orgActions are the Organizations operations the server implements; their
// calls are logged like IAM's.
var orgActions = map[string]bool{"DescribeOrganization": true, "ListAccounts": true, "DescribeAccount": true,
	"ListPolicies": true, "DescribePolicy": true, "ListTargetsForPolicy": true,
	"CreatePolicy": true, "UpdatePolicy": true, "AttachPolicy": true, "DetachPolicy": true}

// orgError is one Organizations error.
type orgError struct {
	status        int
	code, message string
}

// serveOrganizations answers one Organizations request from caller and
// returns the operation name, the HTTP status and the JSON body.
func (s *Server) serveOrganizations(r *http.Request, caller identity) (string, int, []byte) {
	op := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), orgTargetPrefix)
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, maxRequestBody))
	var out any
	var oe *orgError
	switch {
	case err != nil:
		oe = &orgError{http.StatusBadRequest, "InvalidInputException", "Could not read the request body."}
	case !s.organization():
		// Not an organization at all: every call is refused this way.
		oe = &orgError{http.StatusBadRequest, "AWSOrganizationsNotInUseException", "Your account is not a member of an organization."}
	default:
		s.mu.Lock()
		out, oe = s.orgOperation(op, body, caller)
		s.mu.Unlock()
	}
	if oe != nil {
		b, _ := json.Marshal(map[string]string{"__type": oe.code, "Message": oe.message})
		return op, oe.status, b
	}
	b, _ := json.Marshal(out)
	return op, http.StatusOK, b
}

// orgOperation runs one operation. Called with mu held.
func (s *Server) orgOperation(op string, body []byte, caller identity) (any, *orgError) {
	if s.accounts[caller.account] == nil {
		return nil, &orgError{http.StatusBadRequest, "AWSOrganizationsNotInUseException", "Your account is not a member of an organization."}
	}
	mgmt := s.opts.account
	// ListAccounts and DescribeAccount: "can be called only from the
	// organization's management account or by a member account that is a
	// delegated administrator" (Organizations API reference); delegated
	// administrators are not modelled.
	onlyManagement := func() *orgError {
		if caller.account != mgmt {
			return &orgError{http.StatusBadRequest, "AccessDeniedException", "You don't have permissions to access this resource."}
		}
		return nil
	}
	var in struct {
		AccountID  string `json:"AccountId"`
		MaxResults *int
		NextToken  string
	}
	if len(body) > 0 && json.Unmarshal(body, &in) != nil {
		return nil, &orgError{http.StatusBadRequest, "SerializationException", "The request body is not valid JSON."}
	}
	if out, oe, ok := s.orgPolicyOperation(op, body, caller); ok {
		return out, oe
	}
	switch op {
	case "DescribeOrganization":
		// Any account of the organization may call it.
		id := s.orgID()
		return map[string]any{"Organization": map[string]any{
			"Id": id, "Arn": "arn:aws:organizations::" + mgmt + ":organization/" + id, "FeatureSet": "ALL",
			"MasterAccountArn": "arn:aws:organizations::" + mgmt + ":account/" + id + "/" + mgmt,
			"MasterAccountId":  mgmt, "MasterAccountEmail": "management@example.com",
		}}, nil
	case "ListAccounts":
		if oe := onlyManagement(); oe != nil {
			return nil, oe
		}
		n := maxListAccounts
		if in.MaxResults != nil {
			if *in.MaxResults < 1 || *in.MaxResults > maxListAccounts {
				return nil, &orgError{http.StatusBadRequest, "InvalidInputException", "MaxResults must be between 1 and 20."}
			}
			n = *in.MaxResults
		}
		start := 0
		if in.NextToken != "" {
			i, err := strconv.Atoi(in.NextToken)
			if err != nil || i < 0 || i > len(s.opts.accounts) {
				return nil, &orgError{http.StatusBadRequest, "InvalidInputException", "The NextToken is not valid."}
			}
			start = i
		}
		ids := slices.Compact(slices.Clone(s.opts.accounts))
		end := min(start+n, len(ids))
		accounts := make([]map[string]any, 0, end-start)
		for _, id := range ids[start:end] {
			accounts = append(accounts, s.orgAccount(id))
		}
		out := map[string]any{"Accounts": accounts}
		if end < len(ids) {
			out["NextToken"] = strconv.Itoa(end)
		}
		return out, nil
	case "DescribeAccount":
		if oe := onlyManagement(); oe != nil {
			return nil, oe
		}
		if !accountIDRe.MatchString(in.AccountID) {
			return nil, &orgError{http.StatusBadRequest, "InvalidInputException", "AccountId must be 12 digits."}
		}
		if s.accounts[in.AccountID] == nil {
			return nil, &orgError{http.StatusBadRequest, "AccountNotFoundException", "We can't find an AWS account with the AccountId that you specified, or the account whose credentials you used to make this request isn't a member of an organization."}
		}
		return map[string]any{"Account": s.orgAccount(in.AccountID)}, nil
	}
	return nil, &orgError{http.StatusBadRequest, "UnknownOperationException", "The local stand-in does not implement " + op + "."}
}

// orgAccount is one account as ListAccounts and DescribeAccount show it.
func (s *Server) orgAccount(id string) map[string]any {
	method := "CREATED"
	if id == s.opts.account {
		method = "INVITED"
	}
	return map[string]any{
		"Id": id, "Arn": "arn:aws:organizations::" + s.opts.account + ":account/" + s.orgID() + "/" + id,
		"Email": "account-" + id + "@example.com", "Name": "account-" + id, "Status": "ACTIVE", "State": "ACTIVE",
		"JoinedMethod": method, "JoinedTimestamp": 1.7e9,
	}
}
