package storage

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"time"
)

// Category groups an event's photos (ceremony, reception, ...).
type Category struct {
	ID         int64
	EventID    int64
	Name       string
	Slug       string
	Position   int
	PhotoCount int
	CreatedAt  time.Time
}

const categoryColumns = `c.id, c.event_id, c.name, c.slug, c.position,
	(SELECT COUNT(*) FROM photos p WHERE p.category_id = c.id), c.created_at`

func scanCategory(row interface{ Scan(...any) error }) (*Category, error) {
	var c Category
	if err := row.Scan(&c.ID, &c.EventID, &c.Name, &c.Slug, &c.Position, &c.PhotoCount, timeCol{&c.CreatedAt}); err != nil {
		return nil, formatError(err)
	}
	return &c, nil
}

// CreateCategory adds a category to an event, after the existing ones. A slug already
// used in the event is ErrConflict.
func (db *DB) CreateCategory(ctx context.Context, c *Category) error {
	c.CreatedAt = db.now()
	err := db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var exists int
		if err := tx.QueryRowContext(ctx, db.rebind(`SELECT COUNT(*) FROM events WHERE id = ?`), c.EventID).Scan(&exists); err != nil {
			return err
		}
		if exists == 0 {
			return ErrNotFound
		}
		return tx.QueryRowContext(ctx, db.rebind(`INSERT INTO categories (event_id, name, slug, position, created_at)
			VALUES (?, ?, ?, (SELECT COALESCE(MAX(position), 0) + 1 FROM categories WHERE event_id = ?), ?) RETURNING id, position`),
			c.EventID, c.Name, c.Slug, c.EventID, ts(c.CreatedAt)).Scan(&c.ID, &c.Position)
	})
	if err != nil {
		return fmt.Errorf("create category %q in event %d: %w", c.Slug, c.EventID, formatError(err))
	}
	return nil
}

// FindCategories lists an event's categories in their order, each with its photo count.
func (db *DB) FindCategories(ctx context.Context, eventID int64) ([]*Category, error) {
	return db.findCategories(ctx, eventID, `SELECT `+categoryColumns+` FROM categories c WHERE c.event_id = ? ORDER BY c.position, c.id`)
}

// FindCategoriesVisible lists an event's categories with counts of their visible photos
// only, as guests see them.
func (db *DB) FindCategoriesVisible(ctx context.Context, eventID int64) ([]*Category, error) {
	return db.findCategories(ctx, eventID, `SELECT c.id, c.event_id, c.name, c.slug, c.position,
		(SELECT COUNT(*) FROM photos p WHERE p.category_id = c.id AND p.is_hidden = ?), c.created_at
		FROM categories c WHERE c.event_id = ? ORDER BY c.position, c.id`, false)
}

func (db *DB) findCategories(ctx context.Context, eventID int64, q string, args ...any) ([]*Category, error) {
	rows, err := db.r.QueryContext(ctx, db.rebind(q), append(args, eventID)...)
	if err != nil {
		return nil, fmt.Errorf("list categories of event %d: %w", eventID, err)
	}
	defer rows.Close()
	out := []*Category{}
	for rows.Next() {
		c, err := scanCategory(rows)
		if err != nil {
			return nil, fmt.Errorf("list categories of event %d: %w", eventID, err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// FindCategory resolves a category of an event by its id or its slug, the two forms
// that `category_id` accepts.
func (db *DB) FindCategory(ctx context.Context, eventID int64, ref string) (*Category, error) {
	q := `SELECT ` + categoryColumns + ` FROM categories c WHERE c.event_id = ? AND `
	var arg any = ref
	if id, err := strconv.ParseInt(ref, 10, 64); err == nil {
		q += `c.id = ?`
		arg = id
	} else {
		q += `c.slug = ?`
	}
	c, err := scanCategory(db.r.QueryRowContext(ctx, db.rebind(q), eventID, arg))
	if err != nil {
		return nil, fmt.Errorf("find category %q of event %d: %w", ref, eventID, err)
	}
	return c, nil
}

// UpdateCategory renames a category or changes its slug or position.
func (db *DB) UpdateCategory(ctx context.Context, eventID, id int64, name, slug *string, position *int) (*Category, error) {
	_, err := db.exec(ctx, `UPDATE categories SET name = COALESCE(?, name), slug = COALESCE(?, slug), position = COALESCE(?, position)
		WHERE id = ? AND event_id = ?`, nullString(name), nullString(slug), nullInt(position), id, eventID)
	if err != nil {
		return nil, fmt.Errorf("update category %d: %w", id, err)
	}
	return db.FindCategory(ctx, eventID, strconv.FormatInt(id, 10))
}

// DeleteCategory removes a category; its photos stay in the event without a category.
func (db *DB) DeleteCategory(ctx context.Context, eventID, id int64) error {
	res, err := db.exec(ctx, `DELETE FROM categories WHERE id = ? AND event_id = ?`, id, eventID)
	if err != nil {
		return fmt.Errorf("delete category %d: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("delete category %d: %w", id, ErrNotFound)
	}
	return nil
}
