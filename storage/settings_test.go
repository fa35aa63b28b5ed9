package storage_test

import (
	"context"
	"testing"
)

func TestSettings(t *testing.T) {
	ctx := context.Background()
	db := mustOpenDB(t)

	got, err := db.Settings(ctx)
	if err != nil || got == nil || len(got) != 0 {
		t.Fatalf("Settings on a new database = %v, %v", got, err)
	}
	if err := db.PutSettings(ctx, map[string]string{"site_name": "Gallerist", "max_upload_mb": "50"}); err != nil {
		t.Fatal(err)
	}
	// An upsert changes one key and leaves the other.
	if err := db.PutSettings(ctx, map[string]string{"max_upload_mb": "200", "theme": ""}); err != nil {
		t.Fatal(err)
	}
	got, err = db.Settings(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"site_name": "Gallerist", "max_upload_mb": "200", "theme": ""}
	if len(got) != len(want) {
		t.Fatalf("Settings = %v, want %v", got, want)
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("setting %q = %q (present %v), want %q", k, g, ok, v)
		}
	}
	if err := db.PutSettings(ctx, nil); err != nil {
		t.Fatalf("PutSettings(nil): %v", err)
	}
}
