package s3sink

import (
	"context"
	"fmt"
	"mime"
	"net/http"
	"path"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/midata/midata/sinks"
)

// Link returns a SigV4 presigned GET of the object at key that works for
// ttl from now (Config.Now). ttl must be more than 0 and at most
// Config.MaxLinkTTL. The link asks the server to answer with
// Content-Disposition: attachment and the object's file name, so a browser
// saves it. Link does not check that the object exists.
func (s *Sink) Link(ctx context.Context, key string, ttl time.Duration) (sinks.Link, error) {
	if err := checkKey(key); err != nil {
		return sinks.Link{}, fmt.Errorf("sign link to %s: %w", s.loc(key), err)
	}
	if ttl <= 0 || ttl > s.cfg.MaxLinkTTL {
		return sinks.Link{}, fmt.Errorf("sign link to %s: lifetime %s: want more than 0 and at most %s", s.loc(key), ttl, s.cfg.MaxLinkTTL)
	}
	if ttl%time.Second != 0 {
		ttl = ttl.Truncate(time.Second) // SigV4 counts whole seconds
		if ttl == 0 {
			return sinks.Link{}, fmt.Errorf("sign link to %s: lifetime under one second", s.loc(key))
		}
	}
	signedAt := s.cfg.Now().UTC().Truncate(time.Second) // X-Amz-Date has whole seconds
	req, err := s.presign.PresignGetObject(ctx, &s3.GetObjectInput{
		Bucket:                     aws.String(s.cfg.Bucket),
		Key:                        aws.String(key),
		ResponseContentDisposition: aws.String(mime.FormatMediaType("attachment", map[string]string{"filename": path.Base(key)})),
	}, func(o *s3.PresignOptions) {
		o.Expires = ttl
		o.Presigner = fixedTimePresigner{signer: o.Presigner, at: signedAt}
	})
	if err != nil {
		return sinks.Link{}, fmt.Errorf("sign link to %s: %w", s.loc(key), err)
	}
	return sinks.Link{URL: req.URL, ExpiresAt: signedAt.Add(ttl)}, nil
}

// fixedTimePresigner signs with a given time instead of the SDK's clock,
// so the link's expiry is what Link reports and tests can sign in the past.
type fixedTimePresigner struct {
	signer s3.HTTPPresignerV4
	at     time.Time
}

// PresignHTTP signs r as of p.at.
func (p fixedTimePresigner) PresignHTTP(ctx context.Context, credentials aws.Credentials, r *http.Request, payloadHash, service, region string, _ time.Time, optFns ...func(*v4.SignerOptions)) (string, http.Header, error) {
	return p.signer.PresignHTTP(ctx, credentials, r, payloadHash, service, region, p.at, optFns...)
}
