// How to push a first image into a project, with the exact commands for this Berth.
import { CopyField } from "@/components/ui";
import { useRegistryHost } from "@/features/system/api/getSystemInfo";

export function PushHelp({ project }: { project: string }) {
  const host = useRegistryHost();
  return (
    <span className="stack" style={{ alignItems: "center" }}>
      <span>Push an image to create the first repository:</span>
      <CopyField value={`docker login ${host}`} />
      <CopyField value={`docker tag IMAGE ${host}/${project}/NAME:TAG`} />
      <CopyField value={`docker push ${host}/${project}/NAME:TAG`} />
    </span>
  );
}
