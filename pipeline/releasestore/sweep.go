package releasestore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/midata/midata/schemas/release"
	"github.com/midata/midata/sinks"
)

// DefaultSweepAge is how old what the sweeper removes must be: far longer
// than any writer stages a release before its manifest.
const DefaultSweepAge = 24 * time.Hour

// SweepReport is what a sweep found and did.
type SweepReport struct {
	Releases      int  `json:"releases"`        // release prefixes looked at
	Staged        int  `json:"staged"`          // objects of releases without a manifest, removed
	Losers        int  `json:"losers"`          // objects of a committed release its manifest does not name, removed
	Young         int  `json:"young"`           // objects left because they are younger than the cutoff
	UploadsAborts int  `json:"uploads_aborted"` // unfinished multipart uploads aborted
	DryRun        bool `json:"dry_run,omitempty"`
}

// Sweep removes what writers left behind under the releases prefix, older
// than cutoff: the staged objects of a release that never got its
// manifest (a writer killed before its commit), and of a committed
// release the objects its manifest does not name (the attempts of the
// writers that lost the commit). It never removes an object a manifest
// names, nor anything younger than cutoff (a writer may still be staging
// it), and a release's manifest is read again just before its objects
// go. Unfinished multipart uploads started before cutoff are aborted. With
// dryRun it only counts.
func Sweep(ctx context.Context, s sinks.Sink, cutoff time.Time, dryRun bool) (SweepReport, error) {
	rep := SweepReport{DryRun: dryRun}
	lister, ok1 := s.(sinks.AgedLister)
	del, ok2 := s.(sinks.Deleter)
	if !ok1 || !ok2 {
		return rep, errors.New("sweep: the store cannot list objects with their age and delete them")
	}
	var (
		id      string
		objects []sweptObject
		errs    []error
	)
	flush := func() {
		if id == "" {
			return
		}
		rep.Releases++
		if err := sweepRelease(ctx, s, del, id, objects, &rep, dryRun); err != nil {
			errs = append(errs, err)
		}
	}
	err := lister.ListAged(ctx, root, func(key string, written time.Time) error {
		rid, _, ok := strings.Cut(strings.TrimPrefix(key, root), "/")
		if !ok {
			return nil // not under a release's prefix
		}
		if rid != id {
			flush()
			id, objects = rid, nil
		}
		objects = append(objects, sweptObject{key, written.Before(cutoff)})
		return nil
	})
	if err != nil {
		return rep, fmt.Errorf("sweep: %w", err)
	}
	flush()
	if ab, ok := s.(sinks.UploadAborter); ok && !dryRun {
		n, err := ab.AbortUploads(ctx, root, cutoff)
		rep.UploadsAborts += n
		errs = append(errs, err)
	}
	return rep, errors.Join(errs...)
}

type sweptObject struct {
	key string
	old bool // written before the cutoff
}

// sweepRelease removes the old objects of release id that no manifest
// names: all of them when it has none.
func sweepRelease(ctx context.Context, s sinks.Sink, del sinks.Deleter, id string, objects []sweptObject, rep *SweepReport, dryRun bool) error {
	m, err := Manifest(ctx, s, id)
	if err != nil {
		return err
	}
	var doomed []string
	for _, o := range objects {
		switch {
		case m != nil && (o.key == Prefix(id)+release.ManifestFile || named(m, strings.TrimPrefix(o.key, Prefix(id)))):
			// the committed release: never touched
		case !o.old:
			rep.Young++
		default:
			doomed = append(doomed, o.key)
		}
	}
	if len(doomed) == 0 {
		return nil
	}
	if m == nil { // staged only: the manifest again, right before
		if again, err := Manifest(ctx, s, id); err != nil || again != nil {
			return err // committed meanwhile: the next sweep sees it as such
		}
	}
	for _, k := range doomed {
		if !dryRun {
			if err := del.Delete(ctx, k); err != nil {
				return fmt.Errorf("sweep release %s: %w", id, err)
			}
		}
		if m == nil {
			rep.Staged++
		} else {
			rep.Losers++
		}
	}
	return nil
}

// named says whether the manifest names object (its key under the
// release's prefix).
func named(m *release.Manifest, object string) bool {
	for _, rs := range m.Resources {
		if Key(m.ID, rs) == Prefix(m.ID)+object {
			return true
		}
	}
	return false
}
