package serve

import (
	"context"
	"time"

	"github.com/midata/midata/pipeline/api/bearer"
	"github.com/midata/midata/pipeline/config"
)

// TokensFileEvery is how often serve looks whether auth.tokens_file changed.
const TokensFileEvery = 5 * time.Second

// authenticators returns what the API asks after auth.tokens: the tokens
// file (re-read by Run when it changes) and JWTs of the OIDC issuer. An
// unreadable file or an issuer that does not answer discovery stops start.
func authenticators(ctx context.Context, cfg config.Auth) (bearer.Chain, *bearer.File, error) {
	var chain bearer.Chain
	var file *bearer.File
	if cfg.TokensFile != "" {
		f, err := bearer.OpenFile(cfg.TokensFile)
		if err != nil {
			return nil, nil, invalid{err}
		}
		chain, file = append(chain, f), f
	}
	if cfg.OIDC.Enabled() {
		j, err := bearer.NewJWT(ctx, cfg.OIDC, nil)
		if err != nil {
			return nil, nil, err
		}
		chain = append(chain, j)
	}
	return chain, file, nil
}
