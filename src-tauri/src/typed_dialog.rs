//! The native dialog that asks for a protected env's name (GTK, on the thread that runs GTK's
//! main loop, like rfd's dialogs): the text typed there is what core gets as the typed name. Its
//! default answer is Cancel (Return in the text field cancels); only the action button accepts.

use gtk::prelude::*;

/// Raises the dialog and waits for its answer: the text typed when the action button was
/// pressed, `None` when it was cancelled or closed.
pub fn ask(title: String, text: String, env: String, ok: String) -> Option<String> {
    let (tx, rx) = std::sync::mpsc::channel::<Option<String>>();
    gtk::glib::idle_add_once(move || build(&title, &text, &env, &ok, tx));
    // The sender is dropped unanswered only if the dialog could not be shown: cancelled.
    rx.recv().ok().flatten()
}

fn build(
    title: &str,
    text: &str,
    env: &str,
    ok: &str,
    tx: std::sync::mpsc::Sender<Option<String>>,
) {
    let dialog = gtk::Dialog::new();
    dialog.set_title(title);
    dialog.set_modal(true);
    dialog.set_keep_above(true);
    dialog.set_position(gtk::WindowPosition::Center);
    let area = dialog.content_area();
    area.set_spacing(10);
    area.set_border_width(16);
    let said = gtk::Label::new(Some(text));
    said.set_line_wrap(true);
    said.set_xalign(0.0);
    said.set_max_width_chars(72);
    area.pack_start(&said, false, false, 0);
    let ask = gtk::Label::new(None);
    ask.set_markup(&format!(
        "Type <b>{}</b> to confirm:",
        gtk::glib::markup_escape_text(env)
    ));
    ask.set_xalign(0.0);
    area.pack_start(&ask, false, false, 0);
    let entry = gtk::Entry::new();
    entry.set_activates_default(true);
    area.pack_start(&entry, false, false, 0);
    dialog.add_button("Cancel", gtk::ResponseType::Cancel);
    dialog.add_button(ok, gtk::ResponseType::Accept);
    dialog.set_default_response(gtk::ResponseType::Cancel);
    let answer = std::cell::RefCell::new(Some(tx));
    dialog.connect_response(move |d, response| {
        let typed = (response == gtk::ResponseType::Accept).then(|| entry.text().to_string());
        if let Some(tx) = answer.borrow_mut().take() {
            let _ = tx.send(typed);
        }
        // SAFETY: the dialog is ours alone; nothing refers to it after its answer.
        unsafe { d.destroy() };
    });
    dialog.show_all();
}
