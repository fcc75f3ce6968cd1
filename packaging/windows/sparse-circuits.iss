; Inno Setup script for the Windows installer. packaging/windows/build.ps1 runs it as
;   iscc /DAppVersion=0.1.0 /DBundleDir=<the PyInstaller folder> /O<output folder> sparse-circuits.iss
#ifndef AppVersion
  #error Pass /DAppVersion=X.Y.Z
#endif
#ifndef BundleDir
  #error Pass /DBundleDir=<folder holding "Sparse Circuits.exe">
#endif

[Setup]
AppId={{6C1F3E2A-5B7D-4E49-9A51-2F0C8D7B4E31}
AppName=Sparse Circuits
AppVersion={#AppVersion}
AppPublisher=Sparse Circuits developers
DefaultDirName={autopf}\Sparse Circuits
DefaultGroupName=Sparse Circuits
DisableProgramGroupPage=yes
; Per-user install without admin rights is offered; all users needs admin.
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=dialog
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
OutputBaseFilename=sparse-circuits-{#AppVersion}-windows-x64-setup
SetupIconFile=..\icons\sparse-circuits.ico
UninstallDisplayIcon={app}\Sparse Circuits.exe
Compression=lzma2
SolidCompression=yes
WizardStyle=modern

[Tasks]
Name: "desktopicon"; Description: "Create a desktop shortcut"; Flags: unchecked

[Files]
Source: "{#BundleDir}\*"; DestDir: "{app}"; Flags: recursesubdirs createallsubdirs ignoreversion

[Icons]
Name: "{group}\Sparse Circuits"; Filename: "{app}\Sparse Circuits.exe"
Name: "{group}\Uninstall Sparse Circuits"; Filename: "{uninstallexe}"
Name: "{autodesktop}\Sparse Circuits"; Filename: "{app}\Sparse Circuits.exe"; Tasks: desktopicon

[Run]
Filename: "{app}\Sparse Circuits.exe"; Description: "Start Sparse Circuits"; Flags: nowait postinstall skipifsilent
