//! The model's own arithmetic: the cursor's window and an item's length.

use super::*;

#[test]
fn cursor_keeps_the_selection_in_the_window() {
    let mut c = Cursor::default();
    c.move_by(15, 100, 10);
    assert_eq!((c.selected, c.offset), (15, 6));
    c.move_by(-3, 100, 10);
    assert_eq!(
        (c.selected, c.offset),
        (12, 6),
        "no jump while inside the window"
    );
    c.move_by(-100, 100, 10);
    assert_eq!((c.selected, c.offset), (0, 0));
    c.move_by(1000, 100, 10);
    assert_eq!((c.selected, c.offset), (99, 90));
    c.fit(5, 10);
    assert_eq!((c.selected, c.offset), (4, 0));
    assert_eq!(Cursor::default().window(0, 10), 0..0);
    let far = Cursor {
        selected: 5000,
        offset: 0,
    };
    assert_eq!(far.window(10_000, 30), 4971..5001);
}

#[test]
fn item_seconds_applies_in_and_out_points() {
    let mut item = Item::new("i".into(), "C");
    assert_eq!(item_seconds(&item), None);
    item.frames = Some(500);
    item.fps = Some((50, 1));
    assert_eq!(item_seconds(&item), Some(10.0));
    item.in_point = Some(50);
    item.out_point = Some(250);
    assert_eq!(item_seconds(&item), Some(4.0));
}
