// A confirmation step for destructive actions, in a native modal <dialog>: the
// browser moves the focus into it, keeps it there (the page behind is inert) and
// closes it on Escape; the focus then goes back to the opener. The action runs from
// the dialog, so its sending state and its failure (the API's problem) are shown
// where the user is looking, and the dialog only closes once the action succeeded.
import "./confirm.css";
import type { ComponentChildren } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { ErrorBox } from "./states";

export interface ConfirmRequest {
  title: string;
  message: ComponentChildren;
  /** The confirm button's words, e.g. "Revoke". */
  confirmLabel: string;
  busyLabel: string;
  /** Red confirm button: the action removes or breaks something. */
  danger?: boolean;
  action: () => Promise<void>;
}

/** `confirm(request)` opens the dialog; render `dialog` once, anywhere in the view. */
export function useConfirm() {
  const [request, setRequest] = useState<ConfirmRequest | null>(null);
  const dialog = request ? <ConfirmDialog request={request} onClose={() => setRequest(null)} /> : null;
  return { confirm: setRequest, dialog };
}

function ConfirmDialog({ request, onClose }: { request: ConfirmRequest; onClose: () => void }) {
  const ref = useRef<HTMLDialogElement>(null);
  const [sending, setSending] = useState(false);
  const [error, setError] = useState<unknown>(null);

  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    // The dialog leaves the DOM when it closes, before the browser could give the
    // focus back, so it is given back here: to the button that opened it, if that
    // is still on the page (a removed row's button is not).
    const opener = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    dialog.showModal();
    return () => {
      dialog.close();
      if (opener?.isConnected) opener.focus();
    };
  }, []);

  const run = async () => {
    setSending(true);
    setError(null);
    try {
      await request.action();
      onClose();
    } catch (failure) {
      setError(failure);
      setSending(false);
    }
  };

  // Escape fires `cancel`; while the action is on its way the outcome must stay visible.
  const onCancel = (event: Event) => {
    event.preventDefault();
    if (!sending) onClose();
  };

  return (
    <dialog ref={ref} class="confirm" aria-labelledby="confirm-title" aria-describedby="confirm-message" onCancel={onCancel}>
      <h2 id="confirm-title">{request.title}</h2>
      <div id="confirm-message">{request.message}</div>
      {error ? <ErrorBox error={error} /> : null}
      <div class="confirm-actions">
        {/* First in the dialog, so the focus lands on the harmless choice. */}
        <button type="button" class="ghost" onClick={onClose} disabled={sending}>
          Cancel
        </button>
        <button type="button" class={request.danger ? "danger" : undefined} onClick={run} disabled={sending}>
          {sending ? request.busyLabel : request.confirmLabel}
        </button>
      </div>
    </dialog>
  );
}
