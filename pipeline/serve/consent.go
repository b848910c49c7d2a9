package serve

import (
	"context"
	"log/slog"
	"time"

	"github.com/midata/midata/pipeline/consent"
)

// openConsent opens the consent view and reads the topic to its end,
// retrying the open for up to 30 seconds: a topic just created (by this or
// another instance starting at the same time) may have no leader yet.
func openConsent(ctx context.Context, cfg consent.ViewConfig, logger *slog.Logger) (*consent.View, error) {
	start := time.Now()
	for attempt := 1; ; attempt++ {
		// The view outlives ctx (the signal's): in-flight work keeps
		// reading it through the drain, and Close (a service closer) ends
		// it. ctx bounds only the opening.
		view, err := consent.OpenView(context.WithoutCancel(ctx), cfg)
		if err == nil {
			if err = view.Sync(ctx); err == nil {
				logger.Info("consent view ready", "topic", cfg.Topic, "keys", view.Len(), "took", time.Since(start).Round(time.Millisecond))
				return view, nil
			}
			view.Close()
		}
		if attempt == 30 || ctx.Err() != nil {
			return nil, err
		}
		logger.Warn("consent view not open yet; retrying", "attempt", attempt, "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}
