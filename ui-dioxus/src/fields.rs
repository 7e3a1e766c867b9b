//! Text fields that never lose a key: [`TextInput`] and [`TextArea`].
//!
//! A field whose `value` is bound to a draft that its own `oninput` sets
//! loses keys whenever a render is slower than the typist: the render for
//! "a" arrives after "b" was typed and sets the field back to "a" (through
//! the `--web` socket, and more over an SSH tunnel, a render takes a round
//! trip). So these fields hold their own text, as the browser keeps it,
//! and report every change; the app's `value` replaces what is shown only
//! when it differs from what the field last reported, that is when the app
//! itself changed it (a form reset, a chat box cleared after sending): the
//! text is then set in place, and the field keeps its focus.

use std::cell::RefCell;
use std::rc::Rc;

use dioxus::prelude::*;

/// What a field knows of its own text.
#[derive(Debug)]
struct Known {
    /// Its `data-field` number, to find it on the page: its component's
    /// scope, unique in the app's page.
    number: usize,
    /// The text as the field last reported it or was given it.
    text: String,
    /// The text it was first drawn with.
    initial: String,
}

/// The field's state across renders. When the app's `value` is not what
/// the field holds, the app changed it: the new text is set in place.
fn use_known(value: &str) -> Rc<RefCell<Known>> {
    let known = use_hook(|| {
        Rc::new(RefCell::new(Known {
            number: dioxus::core::current_scope_id().0,
            text: value.to_owned(),
            initial: value.to_owned(),
        }))
    });
    let mut state = known.borrow_mut();
    if state.text != value {
        value.clone_into(&mut state.text);
        replace_text(state.number, value);
    }
    drop(state);
    known
}

/// Sets field `number`'s text on the page (no input event follows).
fn replace_text(number: usize, text: &str) {
    let text = serde_json::to_string(text).unwrap_or_else(|_| "\"\"".to_owned());
    document::eval(&format!(
        "const field = document.querySelector('[data-field=\"{number}\"]'); if (field) field.value = {text};"
    ));
}

/// Reports typed text to the app, remembering it as the field's own.
fn on_input(
    known: &Rc<RefCell<Known>>,
    oninput: EventHandler<String>,
) -> impl FnMut(FormEvent) + use<> {
    let known = Rc::clone(known);
    move |event: FormEvent| {
        let text = event.value();
        known.borrow_mut().text.clone_from(&text);
        oninput.call(text);
    }
}

/// Focuses the field once drawn when asked to.
fn on_mounted(focus: bool) -> impl FnMut(MountedEvent) {
    move |event: MountedEvent| {
        if focus {
            spawn(async move {
                let _ = event.set_focus(true).await;
            });
        }
    }
}

/// Passes a key press on to the caller's handler, if any; a key the field
/// types or moves through goes no further, so the page's own keys (the
/// Inspector's j/k and arrows) never act on what is typed.
fn on_key(handler: Option<EventHandler<KeyboardEvent>>) -> impl FnMut(KeyboardEvent) {
    move |event: KeyboardEvent| {
        let own = the_fields_own(&event);
        if let Some(handler) = handler {
            handler.call(event.clone());
        }
        if own {
            event.stop_propagation();
        }
    }
}

/// Whether a key pressed in a text field is the field's own: a character
/// typed, or a key that moves through or erases its text. Enter, Tab,
/// Escape, function keys and Ctrl, Cmd or Alt combinations go on to the
/// page (a form's Ctrl+Enter, the app's Ctrl+K and Escape).
fn the_fields_own(event: &KeyboardEvent) -> bool {
    let modifiers = event.modifiers();
    if modifiers.ctrl() || modifiers.meta() || modifiers.alt() {
        return false;
    }
    matches!(
        event.key(),
        Key::Character(_)
            | Key::ArrowDown
            | Key::ArrowUp
            | Key::ArrowLeft
            | Key::ArrowRight
            | Key::Home
            | Key::End
            | Key::PageUp
            | Key::PageDown
            | Key::Backspace
            | Key::Delete
    )
}

/// A one-line text field that keeps every key typed into it (see the
/// module). Takes any attribute of `input` (`name`, `placeholder`, `r#type`,
/// `disabled`...).
#[component]
pub fn TextInput(
    /// The text; a change made by the app, not typed, replaces what is shown.
    value: String,
    /// Called with the whole text after each change.
    oninput: EventHandler<String>,
    /// Keys pressed in the field (Enter to submit, Escape to close...).
    onkeydown: Option<EventHandler<KeyboardEvent>>,
    /// Takes the focus when it appears.
    #[props(default)]
    focus: bool,
    #[props(extends = GlobalAttributes, extends = input)] attributes: Vec<Attribute>,
) -> Element {
    let known = use_known(&value);
    let (number, initial) = {
        let known = known.borrow();
        (known.number, known.initial.clone())
    };
    rsx! {
        input {
            "data-field": "{number}",
            initial_value: "{initial}",
            oninput: on_input(&known, oninput),
            onmounted: on_mounted(focus),
            onkeydown: on_key(onkeydown),
            ..attributes,
        }
    }
}

/// A multi-line text field that keeps every key typed into it (see the
/// module). Takes any attribute of `textarea`.
#[component]
pub fn TextArea(
    /// The text; a change made by the app, not typed, replaces what is shown.
    value: String,
    /// Called with the whole text after each change.
    oninput: EventHandler<String>,
    /// Keys pressed in the field (Ctrl+Enter to send...).
    onkeydown: Option<EventHandler<KeyboardEvent>>,
    /// Takes the focus when it appears.
    #[props(default)]
    focus: bool,
    #[props(extends = textarea)] attributes: Vec<Attribute>,
) -> Element {
    let known = use_known(&value);
    let (number, initial) = {
        let known = known.borrow();
        (known.number, known.initial.clone())
    };
    rsx! {
        textarea {
            "data-field": "{number}",
            initial_value: "{initial}",
            oninput: on_input(&known, oninput),
            onmounted: on_mounted(focus),
            onkeydown: on_key(onkeydown),
            ..attributes,
        }
    }
}
