package iamtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
)

// Security Hub's BatchImportFindings on the server's endpoint
// (AWS_ENDPOINT_URL_SECURITYHUB): REST-JSON, POST /findings/import with
// {"Findings": [...]}, answered {"FailedCount", "SuccessCount",
// "FailedFindings"} (Security Hub API reference, BatchImportFindings). It
// enforces the rule the guardrail's hub mode exists for: a finding
// imported under an account's default product ARN must be imported by
// that account ("the identifier of the account that you are calling
// BatchImportFindings from needs to be the same as the AwsAccountId
// attribute for the finding", same page). Security Hub refuses the whole
// call with AccessDeniedException then (confirmed by AWS Support,
// prowler-cloud/prowler#867), and so does this stand-in, also when the
// product ARN names another account or region.

// maxImportBatch is BatchImportFindings' most findings per request
// ("Findings … Array Members: Maximum number of 100 items", Security Hub
// API reference, BatchImportFindings).
const maxImportBatch = 100

// productARNRe is an account's default product ARN:
// arn:<partition>:securityhub:<region>:<account>:product/<account>/default
// (Security Hub user guide, "Using custom product integrations").
var productARNRe = regexp.MustCompile(`^arn:aws[\w-]*:securityhub:([a-z0-9-]+):([0-9]{12}):product/([0-9]{12})/default$`)

// ImportedFinding is one finding BatchImportFindings accepted, with who
// imported it.
type ImportedFinding struct {
	// Caller is the account whose credentials signed the import, and
	// CallerARN who signed it (a role session's assumed-role ARN).
	Caller, CallerARN string
	// ID, AwsAccountID and ProductARN are the finding's Id, AwsAccountId
	// and ProductArn.
	ID, AwsAccountID, ProductARN string
	// Finding is the whole finding as imported.
	Finding map[string]any
}

// ImportedFindings returns every finding imported so far, in order.
func (s *Server) ImportedFindings() []ImportedFinding {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]ImportedFinding(nil), s.findings...)
}

// serveSecurityHub answers one Security Hub request.
func (s *Server) serveSecurityHub(w http.ResponseWriter, r *http.Request, reqID string) {
	status, body := http.StatusOK, []byte(nil)
	code, msg := "", ""
	s.mu.Lock()
	id, apiErr := s.caller(r)
	s.calls["BatchImportFindings"]++
	s.mu.Unlock()
	var in struct {
		Findings []map[string]any
	}
	switch {
	case r.Method != http.MethodPost || r.URL.Path != "/findings/import":
		status, code, msg = http.StatusNotFound, "ResourceNotFoundException", "The local stand-in implements only POST /findings/import (BatchImportFindings)."
	case checkAuth(r, "securityhub") != nil:
		status, code, msg = http.StatusForbidden, "AccessDeniedException", "Request is missing a Signature Version 4 authorization for securityhub."
	case apiErr != nil:
		status, code, msg = apiErr.status, apiErr.code, apiErr.message
	case json.NewDecoder(http.MaxBytesReader(w, r.Body, maxRequestBody)).Decode(&in) != nil:
		status, code, msg = http.StatusBadRequest, "InvalidInputException", "The request body is not valid JSON."
	case len(in.Findings) == 0 || len(in.Findings) > maxImportBatch:
		status, code, msg = http.StatusBadRequest, "InvalidInputException", fmt.Sprintf("Findings must hold 1 to %d findings.", maxImportBatch)
	default:
		if denied := importDenied(in.Findings, id, signingRegion(r)); denied != "" {
			status, code, msg = http.StatusForbidden, "AccessDeniedException",
				"User: "+id.arn+" is not authorized to perform: securityhub:BatchImportFindings on resource: "+denied
			break
		}
		s.mu.Lock()
		for _, f := range in.Findings {
			s.findings = append(s.findings, ImportedFinding{Caller: id.account, CallerARN: id.arn, ID: jsonString(f["Id"]), AwsAccountID: jsonString(f["AwsAccountId"]),
				ProductARN: jsonString(f["ProductArn"]), Finding: f})
		}
		s.mu.Unlock()
		body, _ = json.Marshal(map[string]any{"FailedCount": 0, "SuccessCount": len(in.Findings), "FailedFindings": []any{}})
	}
	if code != "" {
		w.Header().Set("X-Amzn-Errortype", code)
		body, _ = json.Marshal(map[string]string{"Code": code, "Message": msg})
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-Requestid", reqID)
	w.WriteHeader(status)
	_, _ = w.Write(body)
	if s.opts.logger != nil {
		s.opts.logger.Info("iam call", "action", "BatchImportFindings", "status", status, "account", id.account, "error", code)
	}
}

// importDenied returns the product ARN of the first finding the caller
// may not import (another account's, or another region's product), or ""
// when it may import them all.
func importDenied(findings []map[string]any, caller identity, region string) string {
	for _, f := range findings {
		product := jsonString(f["ProductArn"])
		m := productARNRe.FindStringSubmatch(product)
		if m == nil || m[2] != caller.account || m[3] != caller.account || (region != "" && m[1] != region) || jsonString(f["AwsAccountId"]) != caller.account {
			if product == "" {
				return "(no ProductArn)"
			}
			return product
		}
	}
	return ""
}

// signingRegion is the region of the request's SigV4 credential scope.
func signingRegion(r *http.Request) string {
	_, cred, ok := strings.Cut(r.Header.Get("Authorization"), "Credential=")
	if !ok {
		return ""
	}
	cred, _, _ = strings.Cut(cred, ",")
	if parts := strings.Split(cred, "/"); len(parts) == 5 {
		return parts[2]
	}
	return ""
}

func jsonString(v any) string {
	s, _ := v.(string)
	return s
}
