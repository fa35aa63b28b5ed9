package storage_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/gallerist/gallerist/storage"
)

func TestCreateCategory(t *testing.T) {
	ctx := context.Background()
	db := mustOpenDB(t)
	clock := useClock(db)
	e := mustCreateEvent(t, db, "e")
	other := mustCreateEvent(t, db, "other")

	var cats []*storage.Category
	for _, slug := range []string{"ceremony", "dinner", "party"} {
		c := &storage.Category{EventID: e.ID, Name: "Name " + slug, Slug: slug}
		if err := db.CreateCategory(ctx, c); err != nil {
			t.Fatal(err)
		}
		cats = append(cats, c)
	}
	for i, c := range cats {
		if c.ID == 0 || c.Position != i+1 || !c.CreatedAt.Equal(clock.Now()) {
			t.Errorf("category %d: id %d position %d created %v", i, c.ID, c.Position, c.CreatedAt)
		}
	}

	// A slug is unique within its event only.
	err := db.CreateCategory(ctx, &storage.Category{EventID: e.ID, Name: "Again", Slug: "dinner"})
	assertErrorIs(t, err, storage.ErrConflict)
	inOther := &storage.Category{EventID: other.ID, Name: "Dinner", Slug: "dinner"}
	if err := db.CreateCategory(ctx, inOther); err != nil {
		t.Fatalf("same slug in another event: %v", err)
	}
	if inOther.Position != 1 {
		t.Fatalf("first category of another event has position %d, want 1", inOther.Position)
	}
	err = db.CreateCategory(ctx, &storage.Category{EventID: 9999, Name: "X", Slug: "x"})
	assertErrorIs(t, err, storage.ErrNotFound)

	got, err := db.FindCategories(ctx, e.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Fatalf("FindCategories = %d categories, want 3", len(got))
	}
	for i, c := range got {
		w := cats[i]
		if c.ID != w.ID || c.EventID != e.ID || c.Name != w.Name || c.Slug != w.Slug || c.Position != w.Position ||
			c.PhotoCount != 0 || !c.CreatedAt.Equal(w.CreatedAt) {
			t.Errorf("category %d = %+v, want %+v", i, c, w)
		}
	}
	if got, err := db.FindCategories(ctx, 9999); err != nil || len(got) != 0 {
		t.Fatalf("FindCategories of a missing event = %v, %v", got, err)
	}
}

func TestFindCategoryByIDOrSlug(t *testing.T) {
	ctx := context.Background()
	db := mustOpenDB(t)
	e := mustCreateEvent(t, db, "e")
	other := mustCreateEvent(t, db, "other")
	c := &storage.Category{EventID: e.ID, Name: "Ceremony", Slug: "ceremony"}
	if err := db.CreateCategory(ctx, c); err != nil {
		t.Fatal(err)
	}
	p := newPhoto(e.ID, "a.jpg", "a")
	p.CategoryID = &c.ID
	mustCreatePhotos(t, db, e.ID, p, newPhoto(e.ID, "b.jpg", "b"))

	for _, ref := range []string{strconv.FormatInt(c.ID, 10), "ceremony"} {
		got, err := db.FindCategory(ctx, e.ID, ref)
		if err != nil {
			t.Fatalf("FindCategory(%q): %v", ref, err)
		}
		if got.ID != c.ID || got.Slug != "ceremony" || got.Name != "Ceremony" || got.PhotoCount != 1 {
			t.Errorf("FindCategory(%q) = %+v", ref, got)
		}
	}
	for _, ref := range []string{"nope", "9999", ""} {
		_, err := db.FindCategory(ctx, e.ID, ref)
		assertErrorIs(t, err, storage.ErrNotFound)
	}
	// A category is only found through its own event.
	for _, ref := range []string{strconv.FormatInt(c.ID, 10), "ceremony"} {
		_, err := db.FindCategory(ctx, other.ID, ref)
		assertErrorIs(t, err, storage.ErrNotFound)
	}
}

func TestUpdateCategory(t *testing.T) {
	ctx := context.Background()
	db := mustOpenDB(t)
	e := mustCreateEvent(t, db, "e")
	a := &storage.Category{EventID: e.ID, Name: "A", Slug: "a"}
	b := &storage.Category{EventID: e.ID, Name: "B", Slug: "b"}
	for _, c := range []*storage.Category{a, b} {
		if err := db.CreateCategory(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	got, err := db.UpdateCategory(ctx, e.ID, a.ID, ptr("Alpha"), nil, ptr(7))
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != "Alpha" || got.Slug != "a" || got.Position != 7 {
		t.Fatalf("after update: %+v", got)
	}
	cats, err := db.FindCategories(ctx, e.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(cats) != 2 || cats[0].ID != b.ID || cats[1].ID != a.ID {
		t.Fatalf("order after moving a to position 7: %+v", cats)
	}
	_, err = db.UpdateCategory(ctx, e.ID, a.ID, nil, ptr("b"), nil)
	assertErrorIs(t, err, storage.ErrConflict)
	_, err = db.UpdateCategory(ctx, e.ID, 9999, ptr("x"), nil, nil)
	assertErrorIs(t, err, storage.ErrNotFound)
}

func TestDeleteCategoryKeepsPhotos(t *testing.T) {
	ctx := context.Background()
	db := mustOpenDB(t)
	e := mustCreateEvent(t, db, "e")
	other := mustCreateEvent(t, db, "other")
	c := &storage.Category{EventID: e.ID, Name: "Ceremony", Slug: "ceremony"}
	keep := &storage.Category{EventID: e.ID, Name: "Party", Slug: "party"}
	for _, x := range []*storage.Category{c, keep} {
		if err := db.CreateCategory(ctx, x); err != nil {
			t.Fatal(err)
		}
	}
	p1, p2, p3 := newPhoto(e.ID, "a.jpg", "a"), newPhoto(e.ID, "b.jpg", "b"), newPhoto(e.ID, "c.jpg", "c")
	p1.CategoryID, p2.CategoryID, p3.CategoryID = &c.ID, &c.ID, &keep.ID
	photos := mustCreatePhotos(t, db, e.ID, p1, p2, p3)

	// The wrong event cannot delete it.
	err := db.DeleteCategory(ctx, other.ID, c.ID)
	assertErrorIs(t, err, storage.ErrNotFound)

	if err := db.DeleteCategory(ctx, e.ID, c.ID); err != nil {
		t.Fatal(err)
	}
	for _, p := range photos[:2] {
		got, err := db.FindPhotoByID(ctx, p.ID)
		if err != nil {
			t.Fatalf("photo %d after its category was deleted: %v", p.ID, err)
		}
		if got.CategoryID != nil {
			t.Errorf("photo %d category = %d, want none", p.ID, *got.CategoryID)
		}
	}
	got, err := db.FindPhotoByID(ctx, photos[2].ID)
	if err != nil || got.CategoryID == nil || *got.CategoryID != keep.ID {
		t.Fatalf("photo in the other category = %+v, %v", got, err)
	}
	if ev := mustFindEvent(t, db, e.ID); ev.PhotoCount != 3 {
		t.Fatalf("event photo count = %d, want 3", ev.PhotoCount)
	}
	_, err = db.FindCategory(ctx, e.ID, "ceremony")
	assertErrorIs(t, err, storage.ErrNotFound)
	err = db.DeleteCategory(ctx, e.ID, c.ID)
	assertErrorIs(t, err, storage.ErrNotFound)
}
