// The exact pull command (docker or podman for images, helm or oras for other artifacts), with a copy button.
import { useState } from "react";
import { CopyButton } from "@/components/ui";

export type PullClient = "docker" | "podman";

/** The API gives the docker form; podman takes the same reference. */
export function pullCommandFor(apiCommand: string, client: PullClient): string {
  return client === "docker" ? apiCommand : apiCommand.replace(/^docker pull /, "podman pull ");
}

export function PullCommand({ command, label = "Pull command" }: { command: string; label?: string }) {
  const [client, setClient] = useState<PullClient>("docker");
  const text = pullCommandFor(command, client);
  // Charts and other artifacts come with their own client's command (helm, oras): no docker/podman choice.
  const forImages = command.startsWith("docker pull ");
  return (
    <div className="stack" style={{ gap: ".35rem" }}>
      <div className="row">
        <strong className="small">{label}</strong>
        {forImages ? (
          <span className="segmented" role="group" aria-label="Client">
            {(["docker", "podman"] as const).map((option) => (
              <button key={option} type="button" aria-pressed={client === option} onClick={() => setClient(option)}>
                {option}
              </button>
            ))}
          </span>
        ) : null}
      </div>
      <div className="pull-command">
        <code data-testid="pull-command">{text}</code>
        <CopyButton text={text} label="Copy pull command" />
      </div>
    </div>
  );
}
